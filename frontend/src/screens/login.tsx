// Sign-in (/login): a one-time code from the link `tend dashboard` prints arrives in the URL fragment
// (`#code=...`, never sent to a server in a request line or a Referer); it is removed from the address
// bar at once and exchanged with `POST /api/login {code}` for the session cookie. Otherwise the token
// can be pasted into the form (`POST /api/login {token}`). Nothing is stored in the browser: the
// session lives in an HttpOnly cookie this code never sees.
import { useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { ApiError, post, signedIn } from "../api";

/** The `code` of a `#code=...` fragment, if any. */
export function codeFromHash(hash: string): string | null {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const code = params.get("code");
  return code ? code : null;
}

function message(e: unknown, what: string): string {
  if (e instanceof ApiError) {
    if (e.status === 401) return `That ${what} was not accepted (wrong, expired or already used).`;
    return e.message;
  }
  return String(e);
}

export function Login() {
  const { route } = useLocation();
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const signIn = async (body: { code: string } | { token: string }, what: string) => {
    setBusy(true);
    setError(null);
    try {
      await post("/api/login", body);
      signedIn.value = true;
      route("/");
    } catch (e) {
      setError(message(e, what));
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    const code = codeFromHash(location.hash);
    if (!code) return;
    // Out of the address bar and history before anything else happens.
    history.replaceState(null, "", location.pathname + location.search);
    signIn({ code }, "sign-in link");
  }, []);

  return (
    <main class="page login">
      <h1>Sign in to tend</h1>
      <p class="muted">
        Open the link <code>tend dashboard</code> prints, or paste the daemon's token (the <code>token</code> file in its data
        dir).
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (token.trim()) signIn({ token: token.trim() }, "token");
        }}
      >
        <div class="field">
          <label for="login-token">Token</label>
          <input
            id="login-token"
            type="password"
            autocomplete="current-password"
            value={token}
            onInput={(e) => setToken((e.target as HTMLInputElement).value)}
            required
          />
        </div>
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
      </form>
      {busy ? <p role="status">Signing in…</p> : null}
      {error ? (
        <p role="alert" class="error-box">
          {error}
        </p>
      ) : null}
    </main>
  );
}
