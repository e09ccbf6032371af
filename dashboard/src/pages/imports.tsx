/**
 * Imports: upload a CSV or NDJSON file (CRM exports, offline data) with upload progress, then
 * follow the job as it applies rows, with each rejected row's reason. On a server without the
 * imports API the page says so.
 */
import { useEffect, useState } from "preact/hooks";
import { api, ApiFailure, toFailure, useApi, useHasEndpoint, withQuery } from "../api";
import { currentSession, may } from "../auth";
import { useApp } from "../context";
import { Card, ErrorNote, Field, Loading, Page, Table, Unavailable } from "../ui";
import { NoSite } from "./overview";

interface ImportJob {
  id: string;
  status: "queued" | "running" | "done" | "failed";
  rows: number;
  applied: number;
  rejected: number;
  errors: { row: number; message: string }[];
  createdAt?: string;
}

const PURPOSES = ["analytics", "personalization", "advertising"];

/** POSTs the file with XMLHttpRequest, whose upload events give the progress fetch cannot. */
function upload(file: File, query: Record<string, string>, onProgress: (share: number) => void): Promise<{ id: string }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", withQuery("/admin/api/imports", query));
    xhr.setRequestHeader("Authorization", `Bearer ${currentSession()?.token ?? ""}`);
    xhr.setRequestHeader("Content-Type", file.name.endsWith(".csv") || file.type === "text/csv" ? "text/csv" : "application/x-ndjson");
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let body: { id?: string; error?: { code: string; message: string; path?: string } } = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // Not JSON: reported below.
      }
      if (xhr.status >= 200 && xhr.status < 300 && body.id) resolve({ id: body.id });
      else reject(new ApiFailure(xhr.status, body.error?.code ?? "error", body.error?.message ?? `The upload answered ${xhr.status}.`, body.error?.path));
    };
    xhr.onerror = () => reject(new ApiFailure(0, "network", "The upload did not reach the server."));
    xhr.send(file);
  });
}

export function ImportsPage() {
  const available = useHasEndpoint("/imports", "post");
  const { site, session } = useApp();
  if (available === null) return <Loading />;
  if (!available)
    return (
      <Page title="Imports">
        <Unavailable what="Importing CSV or NDJSON files" />
      </Page>
    );
  if (!site) return <NoSite />;
  return (
    <Page title="Imports" intro="CRM exports and offline data, applied as identify calls: traits merge and segments are re-evaluated; a bad row is rejected with its reason and the others apply.">
      {may(session.role, "editor") ? <UploadForm siteId={site.id} /> : <p class="muted">Uploading needs the editor role.</p>}
      <PastImports />
    </Page>
  );
}

function UploadForm({ siteId }: { siteId: string }) {
  const [file, setFile] = useState<File | null>(null);
  const [purposes, setPurposes] = useState<string[]>(["analytics"]);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<ApiFailure | null>(null);
  const [jobId, setJobId] = useState<string | null>(null);
  const send = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    setError(null);
    setJobId(null);
    setProgress(0);
    try {
      const { id } = await upload(file, { siteId, purposes: purposes.join(",") }, setProgress);
      setJobId(id);
    } catch (err) {
      setError(toFailure(err));
    } finally {
      setProgress(null);
    }
  };
  return (
    <Card title="Upload">
      <form onSubmit={send}>
        <Field label="File (CSV with a header row, or NDJSON)" hint="A row names its profile by userId, or by email alone; columns traits.x or x become trait x.">
          {(props) => <input {...props} type="file" accept=".csv,.ndjson,.jsonl,text/csv,application/x-ndjson" required onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />}
        </Field>
        <fieldset class="switch">
          <legend>Consent the rows carry (the import is its source)</legend>
          {PURPOSES.map((p) => (
            <label>
              <input type="checkbox" checked={purposes.includes(p)} onChange={(e) => setPurposes(e.currentTarget.checked ? [...purposes, p] : purposes.filter((x) => x !== p))} /> {p}
            </label>
          ))}
        </fieldset>
        <button type="submit" class="primary" disabled={!file || progress !== null}>
          Upload
        </button>
        {progress !== null && (
          <p>
            <label>
              Uploading <progress max={1} value={progress} /> {Math.round(progress * 100)}%
            </label>
          </p>
        )}
      </form>
      <ErrorNote error={error} />
      {jobId && <Job id={jobId} />}
    </Card>
  );
}

function Job({ id }: { id: string }) {
  const [job, setJob] = useState<ImportJob | null>(null);
  const [error, setError] = useState<ApiFailure | null>(null);
  useEffect(() => {
    let live = true;
    let timer = 0;
    const poll = async () => {
      try {
        const answer = await api<ImportJob>(`/imports/${id}`);
        if (!live) return;
        setJob(answer);
        if (answer.status === "queued" || answer.status === "running") timer = window.setTimeout(poll, 1000);
      } catch (e) {
        if (live) setError(toFailure(e));
      }
    };
    void poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [id]);
  return (
    <div>
      <ErrorNote error={error} />
      {job && (
        <>
          <p role="status">
            Import <code>{job.id}</code>: {job.status}. {job.applied.toLocaleString()} applied, {job.rejected.toLocaleString()} rejected of {job.rows.toLocaleString()} rows.
          </p>
          {job.rows > 0 && <progress max={job.rows} value={job.applied + job.rejected} aria-label="rows processed" />}
          <Table
            caption="Rejected rows"
            rows={job.errors}
            empty={<p>No row was rejected.</p>}
            columns={[
              { label: "Row", cell: (r) => r.row, class: "num" },
              { label: "Reason", cell: (r) => r.message, class: "wrap" },
            ]}
          />
        </>
      )}
    </div>
  );
}

function PastImports() {
  const listed = useHasEndpoint("/imports", "get");
  const list = useApi<{ imports: ImportJob[] }>(listed ? "/imports" : null);
  if (!listed) return null;
  return (
    <Card title="Past imports">
      <ErrorNote error={list.error} />
      <Table
        caption="Past imports"
        rows={list.data?.imports ?? []}
        empty={<p>No imports yet.</p>}
        columns={[
          { label: "Id", cell: (j) => <code>{j.id}</code> },
          { label: "Status", cell: (j) => j.status },
          { label: "Applied", cell: (j) => j.applied.toLocaleString(), class: "num" },
          { label: "Rejected", cell: (j) => j.rejected.toLocaleString(), class: "num" },
        ]}
      />
    </Card>
  );
}
