// Placeholder from the scaffold: replaced by the screen's owner.
export function Login() {
  return <main class="page"><h1>Login</h1></main>;
}
