/** Experiences: the list, an editor (status, schedule, the whole experience as JSON), and results. */
import { useState } from "preact/hooks";
import { api, toFailure, useApi, type ApiFailure } from "../api";
import { may } from "../auth";
import { useApp } from "../context";
import { go } from "../router";
import { Card, Chart, ErrorNote, Field, Loading, Page, percent, Table, time } from "../ui";

interface Experience {
  id: string;
  name: string;
  slot: string;
  status: string;
  priority: number;
  holdout: number;
  schedule?: { start?: string; end?: string };
  version: number;
  updatedAt: string;
  [key: string]: unknown;
}

const STATUSES = ["draft", "live", "paused", "ended"];
const TEMPLATE = { name: "Homepage hero", slot: "hero", status: "draft", audience: { all: true }, goal: { event: "Order Completed" }, variants: [{ id: "a", weight: 1, content: { text: "Hello" } }, { id: "b", weight: 1, content: { text: "Welcome back" } }] };
const SERVER_FIELDS = ["id", "version", "createdAt", "updatedAt"];

const bodyOf = (e: Experience | null) => (e ? Object.fromEntries(Object.entries(e).filter(([k]) => !SERVER_FIELDS.includes(k))) : TEMPLATE);

export function ExperiencesPage() {
  const { session } = useApp();
  const list = useApi<{ experiences: Experience[] }>("/experiences");
  return (
    <Page title="Experiences" intro="What a slot of the site shows, to whom, in which variants, and how each variant converts." actions={may(session.role, "editor") && <a class="button" href="#/experiences/new">New experience</a>}>
      <ErrorNote error={list.error} />
      {list.loading && !list.data && <Loading />}
      {list.data && (
        <Table
          caption="Experiences"
          rows={list.data.experiences}
          rowKey={(e) => e.id}
          empty={<p>No experiences yet.</p>}
          columns={[
            { label: "Name", cell: (e) => <a href={`#/experiences/${e.id}`}>{e.name}</a>, class: "wrap" },
            { label: "Slot", cell: (e) => <code>{e.slot}</code> },
            { label: "Status", cell: (e) => <span class={`badge ${e.status}`}>{e.status}</span> },
            { label: "Schedule", cell: (e) => (e.schedule ? `${time(e.schedule.start)} → ${time(e.schedule.end)}` : "always") },
            { label: "Priority", cell: (e) => e.priority, class: "num" },
          ]}
        />
      )}
    </Page>
  );
}

export function ExperiencePage({ id }: { id?: string }) {
  const { session } = useApp();
  const existing = useApi<Experience>(id ? `/experiences/${id}` : null);
  if (id && existing.loading) return <Loading />;
  if (id && existing.error) return <Page title="Experience"><ErrorNote error={existing.error} /></Page>;
  return <ExperienceEditor key={existing.data?.id ?? "new"} experience={existing.data} canEdit={may(session.role, "editor")} />;
}

/** `2026-12-01T10:00:00.000Z` ↔ the local `datetime-local` value. */
const toLocal = (iso?: string) => (iso ? new Date(Date.parse(iso) - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16) : "");
const fromLocal = (value: string) => (value ? new Date(value).toISOString() : undefined);

function ExperienceEditor({ experience, canEdit }: { experience: Experience | null; canEdit: boolean }) {
  const [text, setText] = useState(JSON.stringify(bodyOf(experience), null, 2));
  const [error, setError] = useState<ApiFailure | string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  let body: Record<string, unknown> | null = null;
  let parseError: string | null = null;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    parseError = `Not JSON yet: ${(e as Error).message}`;
  }
  const edit = (change: (b: Record<string, unknown>) => void) => {
    if (!body) return;
    const copy = structuredClone(body);
    change(copy);
    setText(JSON.stringify(copy, null, 2));
  };
  const schedule = (body?.schedule ?? {}) as { start?: string; end?: string };
  const setSchedule = (key: "start" | "end", value: string) =>
    edit((b) => {
      const next = { ...(b.schedule as object), [key]: fromLocal(value) } as Record<string, string | undefined>;
      for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
      if (Object.keys(next).length) b.schedule = next;
      else delete b.schedule;
    });

  const save = async (e: Event) => {
    e.preventDefault();
    if (!body) return;
    setError(null);
    try {
      const answer = experience ? await api<Experience>(`/experiences/${experience.id}`, { method: "PUT", body }) : await api<Experience>("/experiences", { method: "POST", body });
      setSaved(`Saved version ${answer.version}.`);
      if (!experience) go(`experiences/${answer.id}`);
    } catch (err) {
      setError(toFailure(err));
    }
  };
  const failure = typeof error === "object" ? error : null;
  return (
    <Page title={experience?.name ?? "New experience"} intro={experience ? <>Id <code>{experience.id}</code>, version {experience.version}</> : "Start from this template: a slot, an audience, a goal and variants with weights."}>
      <Card title={canEdit ? "Editor" : "Definition"}>
        <form onSubmit={save}>
          <div class="row">
            <Field label="Status" error={failure?.path === "status" ? failure.message : null}>
              {(props) => (
                <select {...props} value={String(body?.status ?? "draft")} disabled={!canEdit || !body} onChange={(e) => edit((b) => (b.status = e.currentTarget.value))}>
                  {STATUSES.map((s) => (
                    <option value={s}>{s}</option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Starts" error={failure?.path === "schedule.start" ? failure.message : null}>
              {(props) => <input {...props} type="datetime-local" value={toLocal(schedule.start)} disabled={!canEdit || !body} onChange={(e) => setSchedule("start", e.currentTarget.value)} />}
            </Field>
            <Field label="Ends" error={failure?.path === "schedule.end" ? failure.message : null}>
              {(props) => <input {...props} type="datetime-local" value={toLocal(schedule.end)} disabled={!canEdit || !body} onChange={(e) => setSchedule("end", e.currentTarget.value)} />}
            </Field>
          </div>
          <Field label="Experience (JSON)" error={parseError ?? (failure ? `${failure.path ? `At ${failure.path}: ` : ""}${failure.message}` : null)} hint="name, slot, audience ({segment} | {rule} | {all: true}), goal, holdout, priority, variants [{id, weight, content}] (README: Experiences).">
            {(props) => <textarea {...props} class="code" rows={Math.min(30, text.split("\n").length + 1)} spellcheck={false} value={text} readOnly={!canEdit} onInput={(e) => setText(e.currentTarget.value)} />}
          </Field>
          {canEdit && (
            <div class="actions">
              <button type="submit" class="primary" disabled={!body}>
                {experience ? "Save changes" : "Create experience"}
              </button>
              {saved && <span role="status">{saved}</span>}
            </div>
          )}
        </form>
      </Card>
      {experience && <Results id={experience.id} />}
    </Page>
  );
}

interface Results {
  goal: { event: string } | null;
  control: string;
  variants: { id: string; exposed: number; converted: number; rate: number; revenue: number; uplift: { relative: number; ci95: [number, number] } | null; chanceToBeat: number | null }[];
  holdout: { exposed: number; converted: number; rate: number };
  srm: { pValue: number; flagged: boolean };
  warnings: { code: string; message: string }[];
}

function Results({ id }: { id: string }) {
  const results = useApi<Results>(`/experiences/${id}/results`);
  const r = results.data;
  const arms = r ? [...r.variants.map((v) => ({ ...v, label: v.id })), ...(r.holdout.exposed ? [{ ...r.holdout, id: "holdout", label: "holdout", uplift: null, chanceToBeat: null, revenue: 0 }] : [])] : [];
  return (
    <Card title="Results">
      <ErrorNote error={results.error} />
      {results.loading && <Loading />}
      {r && (
        <>
          {r.srm.flagged && (
            <p class="warning" role="alert">
              Sample ratio mismatch (p = {r.srm.pValue.toExponential(2)}): exposures do not follow the weights, so these results are not to be trusted until the cause is found.
            </p>
          )}
          {r.warnings.map((w) => (
            <p class="warning">{w.message}</p>
          ))}
          {!r.goal && <p class="muted">This experience has no goal: add one to measure conversions.</p>}
          {arms.some((a) => a.exposed > 0) ? (
            <Chart x={arms.map((_, i) => i)} categories={arms.map((a) => a.label)} series={[{ label: "conversion rate", values: arms.map((a) => a.rate) }]} label="Conversion rate per variant" bars />
          ) : (
            <p class="muted">No exposures yet.</p>
          )}
          <Table
            caption="Results per variant"
            rows={arms}
            columns={[
              { label: "Variant", cell: (a) => (a.id === r.control ? `${a.label} (control)` : a.label) },
              { label: "Exposed", cell: (a) => a.exposed.toLocaleString(), class: "num" },
              { label: "Converted", cell: (a) => a.converted.toLocaleString(), class: "num" },
              { label: "Rate", cell: (a) => percent(a.rate), class: "num" },
              { label: "Uplift (95% CI)", cell: (a) => (a.uplift ? `${percent(a.uplift.relative)} (${percent(a.uplift.ci95[0])} to ${percent(a.uplift.ci95[1])})` : "—") },
              { label: "Chance to beat", cell: (a) => percent(a.chanceToBeat), class: "num" },
            ]}
          />
        </>
      )}
    </Card>
  );
}
