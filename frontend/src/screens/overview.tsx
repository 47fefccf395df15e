// Placeholder from the scaffold: replaced by the screen's owner.
export function Overview() {
  return <main class="page"><h1>Overview</h1></main>;
}
