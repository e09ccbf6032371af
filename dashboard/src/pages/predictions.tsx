/**
 * Predictions: models of how likely a visitor is to do a goal within a window — their metrics, a
 * lift chart by decile and the features' weights. On a server without the predictions API the page
 * says so.
 */
import { useState } from "preact/hooks";
import { api, toFailure, useApi, useHasEndpoint, type ApiFailure } from "../api";
import { may } from "../auth";
import { useApp } from "../context";
import { go } from "../router";
import { Card, Chart, ErrorNote, Field, Loading, onText, Page, Stat, Table, time, Unavailable } from "../ui";

interface Prediction {
  id: string;
  name?: string;
  goal?: { event: string; where?: unknown[] };
  within?: string;
  status: "training" | "ready" | "insufficient_data";
  reason?: string | null;
  version?: number;
  trainedAt?: string | null;
  metrics?: { auc: number | null; logLoss: number | null; positives: number; negatives: number; liftByDecile: number[] } | null;
  features?: { name: string; weight: number }[];
}

export function PredictionsPage({ id }: { id?: string }) {
  const available = useHasEndpoint("/predictions", "post");
  if (available === null) return <Loading />;
  if (!available)
    return (
      <Page title="Predictions">
        <Unavailable what="Predictions" />
      </Page>
    );
  return id ? <PredictionDetail id={id} /> : <PredictionList />;
}

function PredictionList() {
  const { session } = useApp();
  const listed = useHasEndpoint("/predictions", "get");
  const list = useApi<{ predictions: Prediction[] }>(listed ? "/predictions" : null);
  return (
    <Page title="Predictions" intro="The likelihood that a visitor does a goal within a window, trained from the archive; rules can use the score.">
      {may(session.role, "editor") && <NewPrediction />}
      {listed && (
        <Card title="Models">
          <ErrorNote error={list.error} />
          <Table
            caption="Predictions"
            rows={list.data?.predictions ?? []}
            empty={<p>No predictions yet.</p>}
            columns={[
              { label: "Name", cell: (p) => <a href={`#/predictions/${p.id}`}>{p.name ?? p.id}</a>, class: "wrap" },
              { label: "Goal", cell: (p) => (p.goal ? `${p.goal.event} within ${p.within}` : "—"), class: "wrap" },
              { label: "Status", cell: (p) => p.status },
              { label: "AUC", cell: (p) => p.metrics?.auc?.toFixed(3) ?? "—", class: "num" },
              { label: "Trained", cell: (p) => time(p.trainedAt) },
            ]}
          />
        </Card>
      )}
    </Page>
  );
}

function NewPrediction() {
  const [name, setName] = useState("");
  const [event, setEvent] = useState("Order Completed");
  const [within, setWithin] = useState("30d");
  const [error, setError] = useState<ApiFailure | null>(null);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const answer = await api<{ id: string }>("/predictions", { method: "POST", body: { name, goal: { event }, within } });
      go(`predictions/${answer.id}`);
    } catch (err) {
      setError(toFailure(err));
    }
  };
  return (
    <Card title="New prediction">
      <form onSubmit={save} class="row">
        <Field label="Name" error={error?.path === "name" ? error.message : null}>
          {(props) => <input {...props} required value={name} onInput={onText(setName)} placeholder="Likely buyers" />}
        </Field>
        <Field label="Goal event" error={error?.path?.startsWith("goal") ? error.message : null}>
          {(props) => <input {...props} required value={event} onInput={onText(setEvent)} />}
        </Field>
        <Field label="Within" error={error?.path === "within" ? error.message : null}>
          {(props) => <input {...props} required value={within} onInput={onText(setWithin)} size={6} />}
        </Field>
        <button type="submit" class="primary">
          Train
        </button>
      </form>
      {error && !["name", "within"].includes(error.path ?? "") && !error.path?.startsWith("goal") && <ErrorNote error={error} />}
    </Card>
  );
}

function PredictionDetail({ id }: { id: string }) {
  const { session } = useApp();
  const prediction = useApi<Prediction>(`/predictions/${id}`);
  const [error, setError] = useState<ApiFailure | null>(null);
  if (prediction.loading && !prediction.data) return <Loading />;
  if (prediction.error) return <Page title="Prediction"><ErrorNote error={prediction.error} /></Page>;
  const p = prediction.data!;
  const m = p.metrics;
  const retrain = async () => {
    try {
      await api(`/predictions/${id}/train`, { method: "POST" });
      prediction.reload();
    } catch (e) {
      setError(toFailure(e));
    }
  };
  return (
    <Page
      title={p.name ?? p.id}
      intro={
        <>
          {p.goal ? `Does “${p.goal.event}” within ${p.within ?? "the window"}. ` : ""}Status {p.status}
          {p.version ? `, model version ${p.version}` : ""}
          {p.trainedAt ? `, trained ${time(p.trainedAt)}` : ""}.
        </>
      } actions={may(session.role, "editor") && <button type="button" onClick={retrain}>Retrain</button>}>
      <ErrorNote error={error} />
      {p.status === "insufficient_data" && <p class="warning">{p.reason ?? "Not enough data: a model needs at least 100 visitors who did the goal and 100 who did not."}</p>}
      {p.status === "training" && <p role="status">Training: the metrics appear when the job is done.</p>}
      {m && (
        <>
          <div class="stats">
            <Stat label="AUC" value={m.auc} format={(n) => n.toFixed(3)} />
            <Stat label="Log loss" value={m.logLoss} format={(n) => n.toFixed(3)} />
            <Stat label="Positives" value={m.positives} />
            <Stat label="Negatives" value={m.negatives} />
          </div>
          {m.liftByDecile?.length > 0 && (
            <Card title="Lift by decile">
              <Chart x={m.liftByDecile.map((_, i) => i)} categories={m.liftByDecile.map((_, i) => `${i + 1}`)} series={[{ label: "lift", values: m.liftByDecile }]} label="Lift by score decile" bars />
            </Card>
          )}
        </>
      )}
      <Card title="Feature weights">
        <Table
          caption="Feature weights"
          rows={[...(p.features ?? [])].sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight))}
          empty={<p>No weights yet.</p>}
          columns={[
            { label: "Feature", cell: (f) => <code>{f.name}</code>, class: "wrap" },
            { label: "Weight", cell: (f) => f.weight.toFixed(4), class: "num" },
          ]}
        />
      </Card>
    </Page>
  );
}
