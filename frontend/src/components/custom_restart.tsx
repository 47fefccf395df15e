// Placeholder from the scaffold: replaced by its owner (fescreens).
export function CustomRestart(props: { name: string }) {
  return <section aria-label={`Custom restart of ${props.name}`} />;
}
