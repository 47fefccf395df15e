// Placeholder from the scaffold: replaced by the screen's owner.
export function ServiceDetail() {
  return <main class="page"><h1>ServiceDetail</h1></main>;
}
