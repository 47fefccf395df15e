// Placeholder from the scaffold: replaced by the screen's owner.
export function Supervisor() {
  return <main class="page"><h1>Supervisor</h1></main>;
}
