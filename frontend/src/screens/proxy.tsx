// Placeholder from the scaffold: replaced by the screen's owner.
export function Proxy() {
  return <main class="page"><h1>Proxy</h1></main>;
}
