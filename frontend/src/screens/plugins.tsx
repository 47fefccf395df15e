// Placeholder from the scaffold: replaced by the screen's owner.
export function Plugins() {
  return <main class="page"><h1>Plugins</h1></main>;
}
