/** Reports: campaign attribution (with a model switch), funnels, consent over time. */
import { useState } from "preact/hooks";
import { api, toFailure, useApi, type ApiFailure } from "../api";
import { useApp } from "../context";
import { Card, Chart, daysAgo, ErrorNote, Field, Loading, onText, Page, percent, Table } from "../ui";
import { NoSite } from "./overview";

export function ReportsPage() {
  const { site } = useApp();
  const [from, setFrom] = useState(daysAgo(29));
  const [to, setTo] = useState(daysAgo(0));
  if (!site) return <NoSite />;
  return (
    <Page
      title="Reports"
      intro="Read from rollups the queue keeps up to date."
      actions={
        <div class="row">
          <label class="inline">
            From <input type="date" value={from} onChange={(e) => setFrom(e.currentTarget.value)} />
          </label>
          <label class="inline">
            To <input type="date" value={to} onChange={(e) => setTo(e.currentTarget.value)} />
          </label>
        </div>
      }
    >
      <Attribution siteId={site.id} from={from} to={to} />
      <Funnel siteId={site.id} from={from} to={to} />
      <Consent siteId={site.id} from={from} to={to} />
    </Page>
  );
}

const MODELS = ["first", "last", "linear", "position"] as const;

function Attribution({ siteId, from, to }: { siteId: string; from: string; to: string }) {
  const [conversion, setConversion] = useState("Order Completed");
  const [model, setModel] = useState<string>("last");
  const [by, setBy] = useState("campaign");
  const report = useApi<{ rows: { source: string | null; medium: string | null; campaign: string | null; conversions: number; revenue: number }[]; total: { conversions: number; revenue: number } }>(conversion ? "/reports/attribution" : null, { siteId, conversion, model, by, from, to });
  return (
    <Card title="Campaign attribution">
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Conversion event <input value={conversion} onChange={onText(setConversion)} />
        </label>
        <fieldset class="switch">
          <legend>Model</legend>
          {MODELS.map((m) => (
            <label>
              <input type="radio" name="model" value={m} checked={model === m} onChange={() => setModel(m)} /> {m}
            </label>
          ))}
        </fieldset>
        <label>
          By{" "}
          <select value={by} onChange={(e) => setBy(e.currentTarget.value)}>
            <option value="campaign">campaign</option>
            <option value="source">source</option>
            <option value="medium">medium</option>
          </select>
        </label>
      </form>
      <ErrorNote error={report.error} />
      {report.loading && <Loading />}
      {report.data && (
        <>
          <p>
            {report.data.total.conversions.toLocaleString()} conversions, {report.data.total.revenue.toLocaleString()} revenue.
          </p>
          <Table
            caption="Attribution"
            rows={report.data.rows}
            empty={<p>No conversions of “{conversion}” in this range.</p>}
            columns={[
              { label: "Source", cell: (r) => r.source ?? "(direct)" },
              { label: "Medium", cell: (r) => r.medium ?? "—" },
              { label: "Campaign", cell: (r) => r.campaign ?? "—", class: "wrap" },
              { label: "Conversions", cell: (r) => r.conversions.toLocaleString(undefined, { maximumFractionDigits: 2 }), class: "num" },
              { label: "Revenue", cell: (r) => r.revenue.toLocaleString(undefined, { maximumFractionDigits: 2 }), class: "num" },
            ]}
          />
        </>
      )}
    </Card>
  );
}

function Funnel({ siteId, from, to }: { siteId: string; from: string; to: string }) {
  const [steps, setSteps] = useState("Product Viewed\nAdded to Cart\nOrder Completed");
  const [within, setWithin] = useState("7d");
  const [answer, setAnswer] = useState<{ steps: { event: string; visitors: number; conversion: number; dropOff: number }[] } | null>(null);
  const [error, setError] = useState<ApiFailure | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const list = steps.split("\n").map((s) => s.trim()).filter(Boolean);
      setAnswer(await api("/reports/funnel", { method: "POST", body: { siteId, from, to, within, steps: list.map((event) => ({ event })) } }));
    } catch (err) {
      setAnswer(null);
      setError(toFailure(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="Funnel">
      <form onSubmit={run}>
        <div class="row">
          <Field label="Steps (one event a line)" error={error?.path?.startsWith("steps") ? error.message : null}>
            {(props) => <textarea {...props} rows={4} value={steps} onInput={onText(setSteps)} />}
          </Field>
          <Field label="Within" error={error?.path === "within" ? error.message : null} hint="of the first step, e.g. 30m, 24h, 7d">
            {(props) => <input {...props} value={within} onInput={onText(setWithin)} size={6} />}
          </Field>
        </div>
        <button type="submit" disabled={busy}>
          Run funnel
        </button>
      </form>
      {error && !error.path?.startsWith("steps") && error.path !== "within" && <ErrorNote error={error} />}
      {answer && (
        <>
          <Chart x={answer.steps.map((_, i) => i)} categories={answer.steps.map((s) => s.event)} series={[{ label: "visitors", values: answer.steps.map((s) => s.visitors) }]} label="Visitors at each funnel step" bars />
          <Table
            caption="Funnel steps"
            rows={answer.steps}
            columns={[
              { label: "Step", cell: (s) => s.event, class: "wrap" },
              { label: "Visitors", cell: (s) => s.visitors.toLocaleString(), class: "num" },
              { label: "Conversion", cell: (s) => percent(s.conversion), class: "num" },
              { label: "Drop-off", cell: (s) => s.dropOff.toLocaleString(), class: "num" },
            ]}
          />
        </>
      )}
    </Card>
  );
}

function Consent({ siteId, from, to }: { siteId: string; from: string; to: string }) {
  const report = useApi<{ purposes: string[]; days: { day: string; purposes: Record<string, { granted: number; denied: number; rate: number }> }[] }>("/reports/consent", { siteId, from, to });
  const r = report.data;
  return (
    <Card title="Consent">
      <ErrorNote error={report.error} />
      {r && r.days.length === 0 && <p class="muted">No consent choices recorded in this range.</p>}
      {r && r.days.length > 0 && (
        <>
          <Chart x={r.days.map((d) => Date.parse(d.day) / 1000)} series={r.purposes.map((p) => ({ label: p, values: r.days.map((d) => d.purposes[p]?.rate ?? null) }))} label="Share of consent granted per day and purpose" />
          <Table
            caption="Consent per day"
            rows={r.days}
            columns={[
              { label: "Day", cell: (d) => d.day },
              ...r.purposes.map((p) => ({ label: p, cell: (d: (typeof r.days)[number]) => (d.purposes[p] ? `${percent(d.purposes[p]!.rate)} of ${d.purposes[p]!.granted + d.purposes[p]!.denied}` : "—") })),
            ]}
          />
        </>
      )}
    </Card>
  );
}

