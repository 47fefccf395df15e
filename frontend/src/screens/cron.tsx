// Placeholder from the scaffold: replaced by the screen's owner.
export function Cron() {
  return <main class="page"><h1>Cron</h1></main>;
}
