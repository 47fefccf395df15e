// Placeholder from the scaffold: replaced by the screen's owner.
export function CronForm() {
  return <main class="page"><h1>CronForm</h1></main>;
}
