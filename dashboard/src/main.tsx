/**
 * The Cohort dashboard: a Preact single-page app served at /admin. It signs in with an admin token
 * (auth.ts), then every page calls the admin API (/admin/api/*) with it. Routes live in the URL's
 * fragment (router.ts); what the token's role may not do is not offered.
 */
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { unauthorized, useApi } from "./api";
import { addToken, currentSession, sessions, signOut, switchWorkspace, takeTokenFromUrl, type Session } from "./auth";
import { AppContext, type Site } from "./context";
import { useRoute } from "./router";
import "./styles.css";
import { ErrorNote, Field, Loading, Page } from "./ui";
import { DestinationPage, DestinationsPage, NewDestinationPage } from "./pages/destinations";
import { EventsPage, FailedEventsPage } from "./pages/events";
import { ExperiencePage, ExperiencesPage } from "./pages/experiences";
import { ImportsPage } from "./pages/imports";
import { OverviewPage } from "./pages/overview";
import { PredictionsPage } from "./pages/predictions";
import { PrivacyPage } from "./pages/privacy";
import { ProfilesPage } from "./pages/profiles";
import { ReportsPage } from "./pages/reports";
import { SegmentEditorPage, SegmentsPage } from "./pages/segments";
import { SitesPage } from "./pages/sites";

const NAV = [
  ["overview", "Overview"],
  ["events", "Live events"],
  ["failed", "Failed events"],
  ["profiles", "Profiles"],
  ["segments", "Segments"],
  ["experiences", "Experiences"],
  ["destinations", "Destinations"],
  ["reports", "Reports"],
  ["imports", "Imports"],
  ["predictions", "Predictions"],
  ["privacy", "Privacy"],
  ["sites", "Sites and keys"],
] as const;

const SITE_KEY = "cohort.site";

function SignIn({ error: initial }: { error: string | null }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(initial);
  const submit = (e: Event) => {
    e.preventDefault();
    try {
      addToken(token);
      location.hash = "#/overview";
      location.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <main class="signin">
      <h1>Cohort</h1>
      <p>Sign in with an admin token. <code>npm start</code> prints a sign-in link that does this for you; <code>npm run token -- --role viewer</code> signs a token for another role.</p>
      <form onSubmit={submit}>
        <Field label="Admin token" error={error} hint="Kept in this tab only (sessionStorage), sent only to this server's admin API.">
          {(props) => <textarea {...props} rows={4} required value={token} onInput={(e) => setToken(e.currentTarget.value)} spellcheck={false} autoComplete="off" />}
        </Field>
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
    </main>
  );
}

function Shell({ session }: { session: Session }) {
  const route = useRoute();
  const sites = useApi<{ sites: Site[] }>("/sites");
  const [siteId, setSiteId] = useState<string | null>(sessionStorage.getItem(SITE_KEY));
  const all = sessions();
  const list = sites.data?.sites ?? [];
  const site = list.find((s) => s.id === siteId) ?? list[0] ?? null;
  const state = useMemo(() => ({ session, sites: list, site, reloadSites: sites.reload }), [session, sites.data, site]);
  const [page = "overview", id] = route.parts;

  // Move focus to the new page's heading, so keyboard and screen-reader users land on it.
  useEffect(() => {
    (document.getElementById("page-title") as HTMLElement | null)?.focus({ preventScroll: true });
  }, [page, id]);

  const content = (() => {
    if (sites.error) return <Page title="Cohort"><ErrorNote error={sites.error} /></Page>;
    if (!sites.data) return <Loading />;
    switch (page) {
      case "overview":
        return <OverviewPage />;
      case "events":
        return <EventsPage />;
      case "failed":
        return <FailedEventsPage />;
      case "profiles":
        return <ProfilesPage />;
      case "segments":
        return id ? <SegmentEditorPage id={id === "new" ? undefined : id} /> : <SegmentsPage />;
      case "experiences":
        return id ? <ExperiencePage id={id === "new" ? undefined : id} /> : <ExperiencesPage />;
      case "destinations":
        return id === "new" ? <NewDestinationPage /> : id ? <DestinationPage id={id} /> : <DestinationsPage />;
      case "reports":
        return <ReportsPage />;
      case "imports":
        return <ImportsPage />;
      case "predictions":
        return <PredictionsPage id={id} />;
      case "privacy":
        return <PrivacyPage />;
      case "sites":
        return <SitesPage />;
      default:
        return (
          <Page title="Not found">
            <p>
              No page {page}. <a href="#/overview">Go to the overview.</a>
            </p>
          </Page>
        );
    }
  })();

  return (
    <AppContext.Provider value={state}>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("page-title")?.focus())}>
        Skip to the page
      </a>
      <header class="top">
        <a class="brand" href="#/overview">
          Cohort
        </a>
        <div class="session">
          {list.length > 1 && (
            <label class="inline">
              Site{" "}
              <select
                value={site?.id}
                onChange={(e) => {
                  sessionStorage.setItem(SITE_KEY, e.currentTarget.value);
                  setSiteId(e.currentTarget.value);
                }}
              >
                {list.map((s) => (
                  <option value={s.id}>{s.name}</option>
                ))}
              </select>
            </label>
          )}
          {all.length > 1 ? (
            <label class="inline">
              Workspace{" "}
              <select
                value={session.ws}
                onChange={(e) => {
                  switchWorkspace(e.currentTarget.value);
                  sessionStorage.removeItem(SITE_KEY);
                  location.reload();
                }}
              >
                {all.map((s) => (
                  <option value={s.ws}>{s.ws}</option>
                ))}
              </select>
            </label>
          ) : (
            <span>
              Workspace <strong>{session.ws}</strong>
            </span>
          )}
          <span class="badge role" data-testid="role">
            {session.role}
          </span>
          <button
            type="button"
            class="link"
            onClick={() => {
              sessionStorage.setItem("cohort.adding", "1");
              location.reload();
            }}
          >
            Add workspace
          </button>
          <button
            type="button"
            onClick={() => {
              signOut(session.ws);
              location.hash = "";
              location.reload();
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <nav class="nav" aria-label="Pages">
        <ul>
          {NAV.map(([path, label]) => (
            <li>
              <a href={`#/${path}`} aria-current={page === path ? "page" : undefined}>
                {label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {/* Keyed by the route, so a page never shows what it held for the previous one. */}
      <main id="main" key={`${page}/${id ?? ""}`}>
        {content}
      </main>
    </AppContext.Provider>
  );
}

function App() {
  const [notice, setNotice] = useState(takeTokenFromUrl);
  const [session, setSession] = useState(currentSession);
  const [adding, setAdding] = useState(() => sessionStorage.getItem("cohort.adding") === "1");
  useEffect(() => {
    sessionStorage.removeItem("cohort.adding");
    const refused = () => {
      if (session) signOut(session.ws);
      setNotice("The server refused the token (expired, or signed with another secret): sign in again.");
      setSession(null);
    };
    unauthorized.addEventListener("401", refused);
    return () => unauthorized.removeEventListener("401", refused);
  }, [session]);
  if (!session || adding)
    return (
      <>
        <SignIn error={notice} />
        {adding && session && (
          <p class="signin">
            <button type="button" onClick={() => setAdding(false)}>
              Back to {session.ws}
            </button>
          </p>
        )}
      </>
    );
  return <Shell key={session.ws} session={session} />;
}

render(<App />, document.getElementById("app")!);
