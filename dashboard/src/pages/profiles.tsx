/**
 * Profiles: find a visitor by userId, anonymousId or email trait, and see the whole profile —
 * journey, traits, segments, predictions, consent — with export and erase (the privacy endpoints)
 * for the roles that may use them.
 */
import { useEffect, useState } from "preact/hooks";
import { api, toFailure, useApi, type ApiFailure } from "../api";
import { may } from "../auth";
import { useApp } from "../context";
import { go, useRoute } from "../router";
import { Card, Empty, ErrorNote, Field, Json, Loading, onText, Page, Table, time } from "../ui";

interface Profile {
  key: string;
  identities: { kind: string; value: string }[];
  traits: Record<string, unknown>;
  counters: Record<string, number>;
  firstSeen: string | null;
  lastSeen: string | null;
  segments: string[];
  predictions?: Record<string, { score: number; percentile: number }>;
  consent: { purposes: Record<string, boolean>; sources: Record<string, string>; at: number; policyVersion: string } | null;
  recentEvents: { messageId: string; type: string; timestamp: string; event?: string; name?: string }[];
}

type Kind = "userId" | "anonymousId" | "email";

export function ProfilesPage() {
  const { query } = useRoute();
  const initial: Kind = query.get("anonymousId") ? "anonymousId" : query.get("email") ? "email" : "userId";
  const [kind, setKind] = useState<Kind>(initial);
  const [value, setValue] = useState(query.get(initial) ?? "");
  const subject = query.get("userId") ? { userId: query.get("userId")! } : query.get("anonymousId") ? { anonymousId: query.get("anonymousId")! } : null;
  const email = query.get("email");

  // Each search asks again, even for the same visitor (a profile changes as events arrive).
  const [searches, setSearches] = useState(0);
  const search = (e: Event) => {
    e.preventDefault();
    if (!value.trim()) return;
    go(`profiles?${new URLSearchParams({ [kind]: value.trim() })}`);
    setSearches((n) => n + 1);
  };
  return (
    <Page title="Profiles" intro="One visitor's profile: who they are, what they did, which segments they are in, and what they consented to.">
      <form class="filters" onSubmit={search} role="search">
        <label>
          Search by{" "}
          <select value={kind} onChange={(e) => setKind(e.currentTarget.value as Kind)}>
            <option value="userId">userId</option>
            <option value="anonymousId">anonymousId</option>
            <option value="email">email trait</option>
          </select>
        </label>
        <label>
          Value <input type="search" required value={value} onInput={onText(setValue)} placeholder={kind === "email" ? "ada@example.com" : "ada"} />
        </label>
        <button type="submit">Find</button>
      </form>
      {email && <EmailMatches key={searches} email={email} />}
      {subject && <ProfileView key={searches} subject={subject} />}
      {!email && !subject && (
        <Empty>
          <p>Search for a visitor above, or open one from the live events.</p>
        </Empty>
      )}
    </Page>
  );
}

function EmailMatches({ email }: { email: string }) {
  const found = useApi<{ profiles: { key: string; userId?: string; anonymousId?: string }[] }>("/profiles/search", { email });
  if (found.loading) return <Loading />;
  if (found.error) return <ErrorNote error={found.error} />;
  const profiles = found.data?.profiles ?? [];
  if (profiles.length === 1) return <ProfileView subject={profiles[0]!.userId ? { userId: profiles[0]!.userId } : { anonymousId: profiles[0]!.anonymousId! }} />;
  return (
    <Card title={`Profiles with email ${email}`}>
      <Table
        rows={profiles}
        empty={<p>No profile was identified with this email.</p>}
        columns={[{ label: "Profile", cell: (p) => <a href={`#/profiles?${new URLSearchParams(p.userId ? { userId: p.userId } : { anonymousId: p.anonymousId! })}`}>{p.userId ?? p.anonymousId}</a> }]}
      />
    </Card>
  );
}

type Subject = { userId: string } | { anonymousId: string };

function ProfileView({ subject }: { subject: Subject }) {
  const { session } = useApp();
  const profile = useApi<Profile>("/profiles/lookup", subject);
  // The journey is asked for once the profile is known to exist (no 404 for a visitor not found).
  const journey = useApi<{ touchpoints: { at: string; kind: string; name: string; messageId: string }[] }>(profile.data ? "/profiles/journey" : null, subject);
  const segments = useApi<{ segments: { id: string; name: string }[] }>("/segments");
  const [action, setAction] = useState<{ busy?: string; error?: ApiFailure | null; result?: unknown; note?: string }>({});
  useEffect(() => setAction({}), [JSON.stringify(subject)]);

  if (profile.loading) return <Loading />;
  if (profile.error?.status === 404)
    return (
      <Empty>
        <p>No profile for {JSON.stringify(subject)} in this workspace.</p>
      </Empty>
    );
  if (profile.error) return <ErrorNote error={profile.error} />;
  const p = profile.data!;
  const names = new Map((segments.data?.segments ?? []).map((s) => [s.id, s.name]));

  const exportData = async () => {
    setAction({ busy: "export" });
    try {
      const data = await api<unknown>("/privacy/export", { method: "POST", body: subject });
      const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = `cohort-export-${Object.values(subject)[0]}.json`;
      a.click();
      URL.revokeObjectURL(url);
      setAction({ note: "Exported: the file has everything Cohort holds about this visitor." });
    } catch (e) {
      setAction({ error: toFailure(e) });
    }
  };
  const erase = async () => {
    if (!confirm(`Erase everything Cohort holds about ${Object.values(subject)[0]}? This cannot be undone.`)) return;
    setAction({ busy: "erase" });
    try {
      const result = await api<{ id: string; status: string }>("/privacy/erase", { method: "POST", body: subject });
      setAction({ note: `Erasure ${result.id}: ${result.status}. Follow it on the Privacy page.` });
    } catch (e) {
      setAction({ error: toFailure(e) });
    }
  };

  return (
    <>
      <Card title={`Profile ${p.key}`}>
        <dl class="facts">
          <dt>Identities</dt>
          <dd>{p.identities.map((i) => `${i.kind}: ${i.value}`).join(", ") || "—"}</dd>
          <dt>First seen</dt>
          <dd>{time(p.firstSeen)}</dd>
          <dt>Last seen</dt>
          <dd>{time(p.lastSeen)}</dd>
          <dt>Consent</dt>
          <dd>
            {p.consent
              ? Object.entries(p.consent.purposes)
                  .map(([k, v]) => `${k}: ${v ? "granted" : "denied"} (${p.consent!.sources[k] ?? "?"})`)
                  .join("; ")
              : "no choice recorded"}
          </dd>
        </dl>
        {may(session.role, "admin") ? (
          <div class="actions">
            <button type="button" onClick={exportData} disabled={!!action.busy}>
              Export data
            </button>
            <button type="button" class="danger" onClick={erase} disabled={!!action.busy}>
              Erase visitor
            </button>
          </div>
        ) : (
          <p class="muted">Export and erasure are for admins.</p>
        )}
        <ErrorNote error={action.error} />
        {action.note && <p role="status">{action.note}</p>}
      </Card>
      <div class="grid">
        <Card title="Segments">
          {p.segments.length ? (
            <ul>
              {p.segments.map((id) => (
                <li>
                  <a href={`#/segments/${id}`}>{names.get(id) ?? id}</a>
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">In no segment now.</p>
          )}
        </Card>
        <Card title="Predictions">
          {p.predictions && Object.keys(p.predictions).length ? (
            <ul>
              {Object.entries(p.predictions).map(([id, s]) => (
                <li>
                  {id}: score {s.score.toFixed(3)}, percentile {s.percentile}
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">No prediction scores this profile.</p>
          )}
        </Card>
        <Card title="Traits">{Object.keys(p.traits).length ? <Json value={p.traits} /> : <p class="muted">No traits.</p>}</Card>
        <Card title="Counters">{Object.keys(p.counters).length ? <Json value={p.counters} /> : <p class="muted">No counters.</p>}</Card>
      </div>
      <Card title="Journey">
        {/* The journey answers 404 while a visitor has no touchpoint yet: that is the empty state. */}
        <ErrorNote error={journey.error?.status === 404 ? null : journey.error} />
        <Table
          caption="Journey"
          rows={journey.data?.touchpoints ?? []}
          empty={<p>No touchpoints recorded yet.</p>}
          columns={[
            { label: "When", cell: (t) => time(t.at) },
            { label: "Kind", cell: (t) => t.kind },
            { label: "What", cell: (t) => t.name, class: "wrap" },
          ]}
        />
      </Card>
      <Card title="Recent events">
        <Table
          caption="Recent events"
          rows={p.recentEvents}
          empty={<p>No events.</p>}
          columns={[
            { label: "When", cell: (e) => time(e.timestamp) },
            { label: "Type", cell: (e) => e.type },
            { label: "Name", cell: (e) => e.event ?? e.name ?? "—" },
          ]}
        />
      </Card>
    </>
  );
}
