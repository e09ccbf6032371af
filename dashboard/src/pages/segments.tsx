/** Segments: the list with sizes, each one's history, an editor with preview, and explain. */
import { useEffect, useState } from "preact/hooks";
import { api, toFailure, useApi, type ApiFailure } from "../api";
import { may } from "../auth";
import { useApp } from "../context";
import { go } from "../router";
import { Card, Chart, ErrorNote, Field, Loading, onText, Page, Table, time } from "../ui";
import { EXAMPLE_RULE, parseRuleText, RuleEditor } from "./rule-editor";

interface Segment {
  id: string;
  name: string;
  description: string | null;
  rule: unknown;
  version: number;
  size: number;
  backfill: { done: number; total: number };
  createdAt: string;
  updatedAt: string;
}

export function SegmentsPage() {
  const { session } = useApp();
  const list = useApi<{ segments: Segment[] }>("/segments");
  return (
    <Page
      title="Segments"
      intro="Audiences defined by rules over traits, events, consent and context; sizes are members now."
      actions={may(session.role, "editor") && <a class="button" href="#/segments/new">New segment</a>}
    >
      <ErrorNote error={list.error} />
      {list.loading && !list.data && <Loading />}
      {list.data && (
        <Table
          caption="Segments"
          rows={list.data.segments}
          rowKey={(s) => s.id}
          empty={<p>No segments yet.{may(session.role, "editor") ? " Create one with New segment." : ""}</p>}
          columns={[
            { label: "Name", cell: (s) => <a href={`#/segments/${s.id}`}>{s.name}</a>, class: "wrap" },
            { label: "Size", cell: (s) => s.size.toLocaleString(), class: "num" },
            { label: "Backfill", cell: (s) => (s.backfill.total ? `${Math.round((s.backfill.done / s.backfill.total) * 100)}%` : "—"), class: "num" },
            { label: "Id", cell: (s) => <code>{s.id}</code> },
            { label: "Updated", cell: (s) => time(s.updatedAt) },
          ]}
        />
      )}
    </Page>
  );
}

export function SegmentEditorPage({ id }: { id?: string }) {
  const { session } = useApp();
  const existing = useApi<Segment>(id ? `/segments/${id}` : null);
  if (id && existing.loading) return <Loading />;
  if (id && existing.error) return <Page title="Segment"><ErrorNote error={existing.error} /></Page>;
  const segment = existing.data;
  return <SegmentForm key={segment?.id ?? "new"} segment={segment} canEdit={may(session.role, "editor")} />;
}

function SegmentForm({ segment, canEdit }: { segment: Segment | null; canEdit: boolean }) {
  const [name, setName] = useState(segment?.name ?? "");
  const [description, setDescription] = useState(segment?.description ?? "");
  const [text, setText] = useState(JSON.stringify(segment?.rule ?? EXAMPLE_RULE, null, 2));
  const [saveError, setSaveError] = useState<ApiFailure | null>(null);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);

  const save = async (e: Event) => {
    e.preventDefault();
    const { rule, parseError } = parseRuleText(text);
    if (parseError) return;
    setSaving(true);
    setSaveError(null);
    try {
      const body = { name, description: description || null, rule };
      const answer = segment ? await api<Segment>(`/segments/${segment.id}`, { method: "PUT", body }) : await api<Segment>("/segments", { method: "POST", body });
      setSaved(`Saved version ${answer.version}.`);
      if (!segment) go(`segments/${answer.id}`);
    } catch (err) {
      setSaveError(toFailure(err));
    } finally {
      setSaving(false);
    }
  };
  const remove = async () => {
    if (!segment || !confirm(`Delete the segment ${segment.name}?`)) return;
    try {
      await api(`/segments/${segment.id}`, { method: "DELETE" });
      go("segments");
    } catch (err) {
      setSaveError(toFailure(err));
    }
  };
  const ruleError = saveError?.path?.startsWith("rule") ? saveError : null;
  return (
    <Page title={segment ? segment.name : "New segment"} intro={segment ? <>Id <code>{segment.id}</code>, version {segment.version}</> : "Write a rule; its estimated size updates as you type."}>
      {segment && (
        <div class="stats">
          <div class="stat">
            <div class="stat-label">Members now</div>
            <div class="stat-value" data-testid="segment-size">{segment.size.toLocaleString()}</div>
          </div>
          <div class="stat">
            <div class="stat-label">Backfill</div>
            <div class="stat-value">
              {segment.backfill.done} / {segment.backfill.total}
            </div>
          </div>
        </div>
      )}
      <Card title={canEdit ? "Editor" : "Rule"}>
        <form onSubmit={save}>
          <Field label="Name" error={saveError?.path === "name" ? saveError.message : null}>
            {(props) => <input {...props} required value={name} onInput={onText(setName)} readOnly={!canEdit} />}
          </Field>
          <Field label="Description" error={saveError?.path === "description" ? saveError.message : null}>
            {(props) => <input {...props} value={description} onInput={onText(setDescription)} readOnly={!canEdit} />}
          </Field>
          <RuleEditor text={text} onChange={setText} serverError={ruleError} readOnly={!canEdit} />
          {saveError && !ruleError && saveError.path !== "name" && saveError.path !== "description" && <ErrorNote error={saveError} />}
          {canEdit && (
            <div class="actions">
              <button type="submit" class="primary" disabled={saving}>
                {segment ? "Save changes" : "Create segment"}
              </button>
              {segment && (
                <button type="button" class="danger" onClick={remove}>
                  Delete
                </button>
              )}
              {saved && <span role="status">{saved}</span>}
            </div>
          )}
        </form>
      </Card>
      {segment && <Members id={segment.id} />}
      {segment && <History id={segment.id} />}
      {segment && <Explain id={segment.id} />}
    </Page>
  );
}

/** A profile key's page in the dashboard: `ws:user:ada` → the profile of userId ada. */
export function profileLink(key: string) {
  const match = /^[^:]+:(user|anon):(.*)$/.exec(key);
  if (!match) return key;
  const query = new URLSearchParams(match[1] === "user" ? { userId: match[2]! } : { anonymousId: match[2]! });
  return <a href={`#/profiles?${query}`}>{match[2]}</a>;
}

function Members({ id }: { id: string }) {
  const [pages, setPages] = useState<{ profileKey: string; since: string }[]>([]);
  const [next, setNext] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState<ApiFailure | null>(null);
  const load = async (after?: string) => {
    try {
      const page = await api<{ members: { profileKey: string; since: string }[]; next: string | null }>(`/segments/${id}/members`, { query: { after, limit: 100 } });
      setPages((old) => [...(after ? old : []), ...page.members]);
      setNext(page.next);
    } catch (e) {
      setError(toFailure(e));
    }
  };
  useEffect(() => void load(), [id]);
  const download = async () => {
    try {
      const csv = await api<string>(`/segments/${id}/export`, { query: { format: "csv", fields: "userId,anonymousId,email" }, raw: true });
      const url = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = `${id}.csv`;
      a.click();
      URL.revokeObjectURL(url);
    } catch (e) {
      setError(toFailure(e));
    }
  };
  return (
    <Card title="Members">
      <ErrorNote error={error} />
      <Table
        caption="Members"
        rows={pages}
        rowKey={(m) => m.profileKey}
        empty={<p>No members now.</p>}
        columns={[
          { label: "Profile", cell: (m) => profileLink(m.profileKey), class: "wrap" },
          { label: "Member since", cell: (m) => time(m.since) },
        ]}
      />
      <div class="actions">
        {next && (
          <button type="button" onClick={() => load(next)}>
            Load more members
          </button>
        )}
        {pages.length > 0 && (
          <button type="button" onClick={download}>
            Download members (CSV)
          </button>
        )}
      </div>
    </Card>
  );
}

function History({ id }: { id: string }) {
  const history = useApi<{ days: { day: string; size: number; entered: number; exited: number }[] } | { day: string; size: number; entered: number; exited: number }[]>(`/segments/${id}/history`);
  const days = Array.isArray(history.data) ? history.data : (history.data?.days ?? []);
  return (
    <Card title="History">
      <ErrorNote error={history.error} />
      {days.length ? (
        <Chart
          x={days.map((d) => Date.parse(d.day) / 1000)}
          series={[
            { label: "size", values: days.map((d) => d.size) },
            { label: "entered", values: days.map((d) => d.entered) },
            { label: "exited", values: days.map((d) => d.exited) },
          ]}
          label="Segment size per day"
        />
      ) : (
        !history.loading && <p class="muted">No history yet: sizes are recorded as members enter and leave.</p>
      )}
    </Card>
  );
}

interface Explanation {
  path: string;
  kind: string;
  result: boolean;
  summary: string;
  seen?: unknown;
  children?: Explanation[];
}

function ExplainTree({ node }: { node: Explanation }) {
  return (
    <li>
      <span class={node.result ? "ok" : "no"}>{node.result ? "✓" : "✗"}</span> <code>{node.path}</code> {node.summary}
      {node.seen !== undefined && <span class="muted"> (seen: {JSON.stringify(node.seen)})</span>}
      {node.children && (
        <ul>
          {node.children.map((c) => (
            <ExplainTree node={c} />
          ))}
        </ul>
      )}
    </li>
  );
}

function Explain({ id }: { id: string }) {
  const [kind, setKind] = useState<"userId" | "anonymousId">("userId");
  const [value, setValue] = useState("");
  const [answer, setAnswer] = useState<{ member: boolean; profileKey: string; explanation: Explanation } | null>(null);
  const [error, setError] = useState<ApiFailure | null>(null);
  const run = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      setAnswer(await api(`/segments/${id}/explain`, { query: { [kind]: value.trim() } }));
    } catch (err) {
      setAnswer(null);
      setError(toFailure(err));
    }
  };
  return (
    <Card title="Explain on a visitor">
      <form class="filters" onSubmit={run}>
        <label>
          Visitor by{" "}
          <select value={kind} onChange={(e) => setKind(e.currentTarget.value as "userId")}>
            <option value="userId">userId</option>
            <option value="anonymousId">anonymousId</option>
          </select>
        </label>
        <label>
          Id <input required value={value} onInput={onText(setValue)} placeholder="ada" />
        </label>
        <button type="submit">Explain</button>
      </form>
      <ErrorNote error={error} />
      {answer && (
        <div>
          <p>
            <strong>{answer.profileKey}</strong> is {answer.member ? "a member" : "not a member"}.
          </p>
          <ul class="tree">
            <ExplainTree node={answer.explanation} />
          </ul>
        </div>
      )}
    </Card>
  );
}
