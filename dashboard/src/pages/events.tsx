/**
 * Live events: the newest archived events of the site, polled every 2 s with `since` (less a
 * margin, as the archive is written in queue batches; rows are kept by messageId), filterable by
 * type and name, each with its JSON and its consent. Failed events: what was refused, and why.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, toFailure, useApi, type ApiFailure } from "../api";
import { useApp } from "../context";
import { ErrorNote, Json, Loading, onText, Page, Table, time } from "../ui";
import { NoSite, Snippet } from "./overview";

export interface ArchivedEvent {
  messageId: string;
  type: string;
  name: string | null;
  userId: string | null;
  anonymousId: string | null;
  bot: boolean;
  timestamp: string;
  receivedAt: string;
  event: Record<string, unknown> & { consent?: unknown };
}

const POLL_MS = 2000;
const MARGIN_MS = 60_000;
const KEEP = 500;
const TYPES = ["", "track", "page", "screen", "identify", "group", "alias"];

/** The purposes the event was collected under (the archive's `consent`), in a few words. */
function consentOf(event: ArchivedEvent["event"]): string {
  const purposes = (event.consent as { purposes?: Record<string, boolean> } | undefined)?.purposes;
  if (!purposes) return "—";
  const granted = Object.entries(purposes).filter(([k, v]) => v && k !== "necessary").map(([k]) => k);
  return granted.length ? granted.join(", ") : "none granted";
}

export function EventsPage() {
  const { site } = useApp();
  const [type, setType] = useState("");
  const [typed, setTyped] = useState("");
  const [name, setName] = useState("");
  // The name filter applies a moment after typing stops, not at every key.
  useEffect(() => {
    const timer = setTimeout(() => setName(typed.trim()), 300);
    return () => clearTimeout(timer);
  }, [typed]);
  const [rows, setRows] = useState<ArchivedEvent[]>([]);
  const [error, setError] = useState<ApiFailure | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [paused, setPaused] = useState(false);
  const [open, setOpen] = useState<string | null>(null);
  const newest = useRef<string | null>(null);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => {
    if (!site) return;
    setRows([]);
    setLoaded(false);
    newest.current = null;
    let live = true;
    let timer = 0;
    const poll = async () => {
      if (pausedRef.current) {
        timer = window.setTimeout(poll, POLL_MS);
        return;
      }
      try {
        const since = newest.current ? new Date(Date.parse(newest.current) - MARGIN_MS).toISOString() : undefined;
        const { events } = await api<{ events: ArchivedEvent[] }>("/events", { query: { siteId: site.id, type, name, since, limit: 200 } });
        if (!live) return;
        setError(null);
        setLoaded(true);
        if (events[0] && (!newest.current || events[0].receivedAt > newest.current)) newest.current = events[0].receivedAt;
        setRows((old) => {
          const seen = new Set(old.map((e) => e.messageId));
          const fresh = events.filter((e) => !seen.has(e.messageId));
          if (!fresh.length) return old;
          return [...fresh, ...old].sort((a, b) => (a.receivedAt < b.receivedAt ? 1 : -1)).slice(0, KEEP);
        });
      } catch (e) {
        if (live) setError(toFailure(e));
      }
      if (live) timer = window.setTimeout(poll, POLL_MS);
    };
    void poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [site?.id, type, name]);

  if (!site) return <NoSite />;
  return (
    <Page
      title="Live events"
      intro="Events as the archive receives them, newest first, refreshed every 2 seconds."
      actions={
        <button type="button" onClick={() => setPaused(!paused)} aria-pressed={paused}>
          {paused ? "Resume feed" : "Pause feed"}
        </button>
      }
    >
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Type{" "}
          <select value={type} onChange={(e) => setType(e.currentTarget.value)}>
            {TYPES.map((t) => (
              <option value={t}>{t || "any"}</option>
            ))}
          </select>
        </label>
        <label>
          Name <input type="search" value={typed} onInput={onText(setTyped)} placeholder="e.g. Order Completed" />
        </label>
      </form>
      <ErrorNote error={error} />
      {!loaded && !error && <Loading />}
      {loaded && rows.length === 0 && !type && !name ? (
        <Snippet />
      ) : (
        loaded && (
          <div aria-live="polite">
            <Table
              caption="Live events"
              rows={rows}
              rowKey={(e) => e.messageId}
              pageSize={25}
              empty={<p>No event matches these filters yet.</p>}
              columns={[
                { label: "Received", cell: (e) => time(e.receivedAt) },
                { label: "Type", cell: (e) => e.type },
                { label: "Name", cell: (e) => e.name ?? "—" },
                { label: "Who", cell: (e) => (e.userId || e.anonymousId ? <a href={`#/profiles?${new URLSearchParams(e.userId ? { userId: e.userId } : { anonymousId: e.anonymousId! })}`}>{e.userId ?? e.anonymousId}</a> : "—"), class: "wrap" },
                { label: "Consent", cell: (e) => consentOf(e.event) },
                {
                  label: "JSON",
                  cell: (e) => (
                    <>
                      <button type="button" class="link" aria-expanded={open === e.messageId} onClick={() => setOpen(open === e.messageId ? null : e.messageId)}>
                        {open === e.messageId ? "Hide" : "Show"}
                      </button>
                      {open === e.messageId && <Json value={e.event} />}
                    </>
                  ),
                },
              ]}
            />
          </div>
        )
      )}
    </Page>
  );
}

interface FailedEvent {
  id: string;
  receivedAt: string;
  code: string;
  message: string;
  path: string | null;
  messageId: string | null;
  payload: string;
}

export function FailedEventsPage() {
  const { site } = useApp();
  const failed = useApi<{ failedEvents: FailedEvent[] }>(site ? "/failed-events" : null, { siteId: site?.id, limit: 500 });
  const [open, setOpen] = useState<string | null>(null);
  if (!site) return <NoSite />;
  return (
    <Page title="Failed events" intro="Events Cohort refused, with the reason and the field at fault. Nothing is dropped silently." actions={<button type="button" onClick={failed.reload}>Refresh</button>}>
      <ErrorNote error={failed.error} />
      {failed.loading && !failed.data && <Loading />}
      {failed.data && (
        <Table
          caption="Failed events"
          rows={failed.data.failedEvents}
          rowKey={(e) => e.id}
          empty={<p>No failed events: everything sent was accepted.</p>}
          columns={[
            { label: "Received", cell: (e) => time(e.receivedAt) },
            { label: "Reason", cell: (e) => <code>{e.code}</code> },
            { label: "Message", cell: (e) => e.message, class: "wrap" },
            { label: "Field", cell: (e) => e.path ?? "—" },
            {
              label: "Payload",
              cell: (e) => (
                <>
                  <button type="button" class="link" aria-expanded={open === e.id} onClick={() => setOpen(open === e.id ? null : e.id)}>
                    {open === e.id ? "Hide" : "Show"}
                  </button>
                  {open === e.id && <pre class="json">{e.payload}</pre>}
                </>
              ),
            },
          ]}
        />
      )}
    </Page>
  );
}
