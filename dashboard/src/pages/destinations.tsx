/** Destinations: where events and audiences go, how delivery is doing, what failed; replay, pause. */
import { useState } from "preact/hooks";
import { api, toFailure, useApi, type ApiFailure } from "../api";
import { may } from "../auth";
import { useApp } from "../context";
import { go } from "../router";
import { Card, ErrorNote, Field, Json, Loading, onText, Page, Stat, Table, time } from "../ui";

interface Destination {
  id: string;
  name: string;
  type: string;
  config: Record<string, unknown>;
  purposes: string[];
  segments: string[];
  enabled: boolean;
  paused: boolean;
  pausedReason: string | null;
  stats?: { delivered: number; failed: number; retrying: number; pending: number; filtered: number };
}

const status = (d: Destination) => (d.paused ? `paused${d.pausedReason ? `: ${d.pausedReason}` : ""}` : d.enabled ? "enabled" : "disabled");

export function DestinationsPage() {
  const { session } = useApp();
  const list = useApi<{ destinations: Destination[] }>("/destinations");
  return (
    <Page title="Destinations" intro="Webhooks and ad platforms that receive events and audiences, each delivered on its own schedule." actions={may(session.role, "editor") && <a class="button" href="#/destinations/new">New destination</a>}>
      <ErrorNote error={list.error} />
      {list.loading && !list.data && <Loading />}
      {list.data && (
        <Table
          caption="Destinations"
          rows={list.data.destinations}
          rowKey={(d) => d.id}
          empty={<p>No destinations yet: events stay in Cohort until one is added.</p>}
          columns={[
            { label: "Name", cell: (d) => <a href={`#/destinations/${d.id}`}>{d.name}</a>, class: "wrap" },
            { label: "Type", cell: (d) => d.type },
            { label: "Status", cell: (d) => <span class={`badge ${d.paused ? "paused" : d.enabled ? "live" : "ended"}`}>{status(d)}</span>, class: "wrap" },
            { label: "Purposes", cell: (d) => d.purposes.join(", ") },
          ]}
        />
      )}
    </Page>
  );
}

export function DestinationPage({ id }: { id: string }) {
  const { session } = useApp();
  const destination = useApi<Destination>(`/destinations/${id}`);
  const failed = useApi<{ deliveries: { id: string; messageId: string; attempts: number; responseStatus: number | null; error: string | null; lastAttemptAt: string | null }[] }>(`/destinations/${id}/deliveries`, { status: "failed", limit: 200 });
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<ApiFailure | null>(null);
  const canEdit = may(session.role, "editor");
  if (destination.loading && !destination.data) return <Loading />;
  if (destination.error) return <Page title="Destination"><ErrorNote error={destination.error} /></Page>;
  const d = destination.data!;
  const act = async (what: () => Promise<string>) => {
    setError(null);
    try {
      setNote(await what());
      destination.reload();
      failed.reload();
    } catch (e) {
      setError(toFailure(e));
    }
  };
  const s = d.stats;
  return (
    <Page title={d.name} intro={<>{d.type} · <code>{d.id}</code> · {status(d)}</>}>
      {s && (
        <div class="stats">
          <Stat label="Delivered" value={s.delivered} />
          <Stat label="Failed" value={s.failed} />
          <Stat label="Retrying" value={s.retrying} />
          <Stat label="Pending" value={s.pending} />
          <Stat label="Filtered out" value={s.filtered} />
        </div>
      )}
      {canEdit && (
        <div class="actions">
          <button type="button" onClick={() => act(async () => (await api(`/destinations/${d.id}`, { method: "PATCH", body: { enabled: !d.enabled || d.paused } }), d.enabled && !d.paused ? "Paused." : "Enabled."))}>
            {d.enabled && !d.paused ? "Pause" : "Enable"}
          </button>
          <button type="button" onClick={() => act(async () => `Replayed ${(await api<{ replayed: number }>(`/destinations/${d.id}/replay`, { method: "POST", body: {} })).replayed} failed deliveries.`)}>
            Replay failed
          </button>
        </div>
      )}
      <ErrorNote error={error} />
      {note && <p role="status">{note}</p>}
      <Card title="Failed deliveries">
        <ErrorNote error={failed.error} />
        <Table
          caption="Failed deliveries"
          rows={failed.data?.deliveries ?? []}
          empty={<p>Nothing failed for good.</p>}
          columns={[
            { label: "Event", cell: (x) => <code>{x.messageId}</code>, class: "wrap" },
            { label: "Attempts", cell: (x) => x.attempts, class: "num" },
            { label: "Answer", cell: (x) => x.responseStatus ?? "—" },
            { label: "Error", cell: (x) => x.error ?? "—", class: "wrap" },
            { label: "Last try", cell: (x) => time(x.lastAttemptAt) },
          ]}
        />
      </Card>
      <Card title="Configuration">
        <Json value={{ config: d.config, purposes: d.purposes, segments: d.segments }} />
      </Card>
    </Page>
  );
}

export function NewDestinationPage() {
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [error, setError] = useState<ApiFailure | null>(null);
  const [secret, setSecret] = useState<{ id: string; secret: string } | null>(null);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const answer = await api<{ id: string; secret: string }>("/destinations", { method: "POST", body: { name, type: "webhook", config: { url } } });
      setSecret(answer);
    } catch (err) {
      setError(toFailure(err));
    }
  };
  return (
    <Page title="New webhook destination" intro="Events that pass the filter and whose consent grants analytics are POSTed to the URL, signed (Standard Webhooks). Ad platforms are created through the API (README: Destinations).">
      {secret ? (
        <Card title="Created">
          <p>Keep the signing secret now: it is shown only once.</p>
          <pre class="snippet">{secret.secret}</pre>
          <button type="button" onClick={() => go(`destinations/${secret.id}`)}>
            Open the destination
          </button>
        </Card>
      ) : (
        <Card>
          <form onSubmit={save}>
            <Field label="Name" error={error?.path === "name" ? error.message : null}>
              {(props) => <input {...props} required value={name} onInput={onText(setName)} />}
            </Field>
            <Field label="Endpoint URL" error={error?.path === "config.url" ? error.message : null}>
              {(props) => <input {...props} type="url" required value={url} onInput={onText(setUrl)} placeholder="https://hooks.example.com/cohort" />}
            </Field>
            {error && error.path !== "name" && error.path !== "config.url" && <ErrorNote error={error} />}
            <button type="submit" class="primary">
              Create destination
            </button>
          </form>
        </Card>
      )}
    </Page>
  );
}
