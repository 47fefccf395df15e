// Placeholder from the scaffold: replaced by the screen's owner.
export function Audit() {
  return <main class="page"><h1>Audit</h1></main>;
}
