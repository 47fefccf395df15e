// Placeholder from the scaffold: replaced by the screen's owner.
export function Logs() {
  return <main class="page"><h1>Logs</h1></main>;
}
