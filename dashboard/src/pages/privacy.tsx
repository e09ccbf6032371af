/** Privacy: erasure requests and their steps, access requests, and the consent ledger's check. */
import { useState } from "preact/hooks";
import { api, toFailure, useApi, type ApiFailure } from "../api";
import { may } from "../auth";
import { useApp } from "../context";
import { Card, ErrorNote, Loading, onText, Page, Table, time } from "../ui";
import { NoSite } from "./overview";

interface Erasure {
  id: string;
  status: string;
  steps: { name: string; done: boolean; count: number }[];
  attempts: number;
  lastError: string | null;
  createdAt: string;
  doneAt: string | null;
}

export function PrivacyPage() {
  const { session, site } = useApp();
  const admin = may(session.role, "admin");
  return (
    <Page title="Privacy" intro="Access and erasure requests, and the tamper-evident ledger of every consent choice.">
      {admin ? <Requests /> : <p class="muted">Privacy requests are for admins; the ledger check is open to every role.</p>}
      {site ? <Ledger siteId={site.id} /> : <NoSite />}
    </Page>
  );
}

function Requests() {
  const list = useApi<{ requests: Erasure[] }>("/privacy/requests");
  const [kind, setKind] = useState<"userId" | "anonymousId">("userId");
  const [value, setValue] = useState("");
  const [error, setError] = useState<ApiFailure | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const request = async (what: "export" | "erase") => {
    if (!value.trim()) return;
    setError(null);
    setNote(null);
    const subject = { [kind]: value.trim() };
    try {
      if (what === "erase") {
        if (!confirm(`Erase everything Cohort holds about ${value.trim()}? This cannot be undone.`)) return;
        const answer = await api<Erasure>("/privacy/erase", { method: "POST", body: subject });
        setNote(`Erasure ${answer.id}: ${answer.status}.`);
        list.reload();
      } else {
        const data = await api<unknown>("/privacy/export", { method: "POST", body: subject });
        const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
        const a = document.createElement("a");
        a.href = url;
        a.download = `cohort-export-${value.trim()}.json`;
        a.click();
        URL.revokeObjectURL(url);
        setNote("Exported.");
      }
    } catch (e) {
      setError(toFailure(e));
    }
  };
  return (
    <>
      <Card title="New request">
        <form class="filters" onSubmit={(e) => e.preventDefault()}>
          <label>
            Subject by{" "}
            <select value={kind} onChange={(e) => setKind(e.currentTarget.value as "userId")}>
              <option value="userId">userId</option>
              <option value="anonymousId">anonymousId</option>
            </select>
          </label>
          <label>
            Id <input required value={value} onInput={onText(setValue)} />
          </label>
          <button type="button" onClick={() => request("export")}>
            Export (access)
          </button>
          <button type="button" class="danger" onClick={() => request("erase")}>
            Erase
          </button>
        </form>
        <ErrorNote error={error} />
        {note && <p role="status">{note}</p>}
      </Card>
      <Card title="Erasure requests">
        <ErrorNote error={list.error} />
        {list.loading && !list.data && <Loading />}
        <Table
          caption="Erasure requests"
          rows={list.data?.requests ?? []}
          rowKey={(r) => r.id}
          empty={<p>No erasure requests yet.</p>}
          columns={[
            { label: "Request", cell: (r) => <code>{r.id}</code>, class: "wrap" },
            { label: "Status", cell: (r) => r.status },
            { label: "Steps done", cell: (r) => `${r.steps.filter((s) => s.done).length} / ${r.steps.length}` },
            { label: "Asked", cell: (r) => time(r.createdAt) },
            { label: "Done", cell: (r) => time(r.doneAt) },
            { label: "Last error", cell: (r) => r.lastError ?? "—", class: "wrap" },
          ]}
        />
      </Card>
    </>
  );
}

function Ledger({ siteId }: { siteId: string }) {
  const [check, setCheck] = useState<{ valid: boolean; entries: number; brokenAt?: string; reason?: string } | null>(null);
  const [error, setError] = useState<ApiFailure | null>(null);
  const entries = useApi<{ entries: { id: string; seq: number; at: string; subject: string | null; consent: unknown; policyVersion: string }[] }>("/consent/ledger", { siteId });
  const verify = async () => {
    setError(null);
    try {
      setCheck(await api("/consent/ledger/verify", { query: { siteId } }));
    } catch (e) {
      setError(toFailure(e));
    }
  };
  const purposes = (consent: unknown) => {
    const p = (consent as { purposes?: Record<string, boolean> } | null)?.purposes;
    return p ? Object.entries(p).map(([k, v]) => `${k} ${v ? "✓" : "✗"}`).join(", ") : "—";
  };
  return (
    <Card title="Consent ledger">
      <div class="actions">
        <button type="button" onClick={verify}>
          Verify the hash chain
        </button>
        {check && (
          <p role="status" class={check.valid ? "ok" : "error"}>
            {check.valid ? `Valid: every one of ${check.entries} entries follows from the one before it.` : `Broken at ${check.brokenAt}: ${check.reason}`}
          </p>
        )}
      </div>
      <ErrorNote error={error ?? entries.error} />
      <Table
        caption="Ledger entries"
        rows={[...(entries.data?.entries ?? [])].reverse()}
        rowKey={(e) => e.id}
        empty={<p>No consent choices recorded yet.</p>}
        columns={[
          { label: "#", cell: (e) => e.seq, class: "num" },
          { label: "When", cell: (e) => time(e.at) },
          { label: "Subject (pseudonym)", cell: (e) => <code>{e.subject?.slice(0, 12) ?? "—"}</code> },
          { label: "Purposes", cell: (e) => purposes(e.consent), class: "wrap" },
          { label: "Policy", cell: (e) => e.policyVersion },
        ]}
      />
    </Card>
  );
}
