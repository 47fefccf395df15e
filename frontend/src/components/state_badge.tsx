// The lifecycle status as a coloured badge whose text is exactly the status (tests read it); `title`
// adds a tooltip (a waiting service's reasons in the overview), `blocked` marks a waiting service whose
// dependency failed for good (class `blocked`: red, dashed).
export function StateBadge({ status, title, blocked }: { status: string; title?: string | undefined; blocked?: boolean }) {
  return (
    <span class={`badge ${status}${blocked ? " blocked" : ""}`} data-testid="state" title={title}>
      {status}
    </span>
  );
}
