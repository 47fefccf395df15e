// The lifecycle status as a coloured badge whose text is exactly the status (tests read it).
export function StateBadge({ status }: { status: string }) {
  return (
    <span class={`badge ${status}`} data-testid="state">
      {status}
    </span>
  );
}
