// The lifecycle status as a coloured badge whose text is exactly the status (tests read it); `title`
// adds a tooltip (a waiting service's reasons in the overview).
export function StateBadge({ status, title }: { status: string; title?: string | undefined }) {
  return (
    <span class={`badge ${status}`} data-testid="state" title={title}>
      {status}
    </span>
  );
}
