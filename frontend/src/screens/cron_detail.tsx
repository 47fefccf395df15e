// Placeholder from the scaffold: replaced by the screen's owner.
export function CronDetail() {
  return <main class="page"><h1>CronDetail</h1></main>;
}
