// The shell: sign-in gate, navigation, the live-connection banner and the client routes. Each screen
// lives in src/screens/ and is loaded when first visited, so the first load carries the overview only.
import { useEffect } from "preact/hooks";
import { LocationProvider, Router, Route, lazy, useLocation } from "preact-iso";
import { signedIn, get } from "./api";
import { connect, connection } from "./live";
import { Login } from "./screens/login";
import { Overview } from "./screens/overview";

const ServiceDetail = lazy(() => import("./screens/service").then((m) => m.ServiceDetail));
const Logs = lazy(() => import("./screens/logs").then((m) => m.Logs));
const ServiceForm = lazy(() => import("./screens/service_form").then((m) => m.ServiceForm));
const Cron = lazy(() => import("./screens/cron").then((m) => m.Cron));
const CronDetail = lazy(() => import("./screens/cron_detail").then((m) => m.CronDetail));
const CronForm = lazy(() => import("./screens/cron_form").then((m) => m.CronForm));
const Plugins = lazy(() => import("./screens/plugins").then((m) => m.Plugins));
const Proxy = lazy(() => import("./screens/proxy").then((m) => m.Proxy));
const Audit = lazy(() => import("./screens/audit").then((m) => m.Audit));
const FixDetail = lazy(() => import("./screens/fix").then((m) => m.FixDetail));
const Onboard = lazy(() => import("./screens/onboard").then((m) => m.Onboard));
const Chat = lazy(() => import("./screens/chat").then((m) => m.Chat));
const Supervisor = lazy(() => import("./screens/supervisor").then((m) => m.Supervisor));

const NAV: [string, string][] = [
  ["/", "Overview"],
  ["/cron", "Cron"],
  ["/onboard", "Onboard"],
  ["/chat", "Chat"],
  ["/plugins", "Plugins"],
  ["/proxy", "Proxy"],
  ["/audit", "Audit"],
  ["/supervisor", "Supervisor"],
];

function Nav() {
  const { path } = useLocation();
  const current = (href: string) => (href === "/" ? path === "/" || path.startsWith("/services") : path.startsWith(href));
  return (
    <nav class="nav" aria-label="Main">
      <a class="brand" href="/">
        tend
      </a>
      <ul>
        {NAV.map(([href, label]) => (
          <li key={href}>
            <a href={href} aria-current={current(href) ? "page" : undefined}>
              {label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function Banner() {
  if (connection.value !== "lost") return null;
  return (
    <div class="banner" role="status" data-testid="connection-lost">
      Connection to the daemon lost; reconnecting…
    </div>
  );
}

function NotFound() {
  return (
    <main class="page">
      <h1>Not found</h1>
      <p>
        No such page. <a href="/">Back to the overview</a>
      </p>
    </main>
  );
}

function Shell() {
  const { path, route } = useLocation();
  useEffect(() => {
    // One cheap authenticated call decides between the app and the sign-in page.
    // Not on /login: the page is there to sign in, and the probe would race its sign-in.
    if (signedIn.value === null && path !== "/login")
      get("/api/status").then(() => (signedIn.value = true), () => {});
  }, []);
  useEffect(() => {
    if (signedIn.value === false && path !== "/login") route(`/login`);
    if (signedIn.value === true) connect();
  }, [signedIn.value, path]);
  if (path === "/login") return <Login />;
  // Rendered before the status check answers (the screens' own first requests go out at once, one round
  // trip sooner); a 401 to any of them shows the sign-in page.
  if (signedIn.value === false) return <main class="page" aria-busy="true" />;
  return (
    <>
      <Nav />
      <Banner />
      <Router>
        <Route path="/" component={Overview} />
        <Route path="/services/new" component={ServiceForm} />
        <Route path="/services/:name/edit" component={ServiceForm} />
        <Route path="/services/:name/logs" component={Logs} />
        <Route path="/services/:name" component={ServiceDetail} />
        <Route path="/cron" component={Cron} />
        <Route path="/cron/new" component={CronForm} />
        <Route path="/cron/:name/edit" component={CronForm} />
        <Route path="/cron/:name" component={CronDetail} />
        <Route path="/fixes/:id" component={FixDetail} />
        <Route path="/plugins" component={Plugins} />
        <Route path="/proxy" component={Proxy} />
        <Route path="/audit" component={Audit} />
        <Route path="/onboard" component={Onboard} />
        <Route path="/chat" component={Chat} />
        <Route path="/supervisor" component={Supervisor} />
        <Route default component={NotFound} />
      </Router>
    </>
  );
}

export function App() {
  return (
    <LocationProvider>
      <Shell />
    </LocationProvider>
  );
}
