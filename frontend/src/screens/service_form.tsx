// Placeholder from the scaffold: replaced by the screen's owner.
export function ServiceForm() {
  return <main class="page"><h1>ServiceForm</h1></main>;
}
