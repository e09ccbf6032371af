/** The dashboard's building blocks: tables that page, charts (uPlot), notes, fields, JSON. */
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { ApiFailure } from "./api";

export function Page({ title, intro, children, actions }: { title: string; intro?: ComponentChildren; children: ComponentChildren; actions?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · Cohort`;
  }, [title]);
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-head">
        <h1 id="page-title" tabIndex={-1}>
          {title}
        </h1>
        {actions && <div class="actions">{actions}</div>}
      </header>
      {intro && <p class="intro">{intro}</p>}
      {children}
    </section>
  );
}

export function Card({ title, children, id }: { title?: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="card" id={id}>
      {title && <h2>{title}</h2>}
      {children}
    </section>
  );
}

export const Loading = () => (
  <p class="muted" role="status">
    Loading…
  </p>
);

export function ErrorNote({ error }: { error: ApiFailure | string | null | undefined }) {
  if (!error) return null;
  const text = typeof error === "string" ? error : error.message;
  return (
    <p class="error" role="alert">
      {text}
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

/** A feature this server does not have (its endpoint answers 404 or is not in the document). */
export const Unavailable = ({ what }: { what: string }) => (
  <Empty>
    <p>
      <strong>Not available on this server.</strong> {what} needs a Cohort version whose admin API has it (see <a href="/admin/api/docs">the API document</a>).
    </p>
  </Empty>
);

export interface Column<T> {
  label: string;
  cell: (row: T) => ComponentChildren;
  class?: string;
}

/** A table that pages (`pageSize` rows at a time), scrolling inside its own box on a small screen. */
export function Table<T>({ rows, columns, pageSize = 20, empty, caption, rowKey }: { rows: T[]; columns: Column<T>[]; pageSize?: number; empty?: ComponentChildren; caption?: string; rowKey?: (row: T) => string }) {
  const [page, setPage] = useState(0);
  const pages = Math.max(1, Math.ceil(rows.length / pageSize));
  const current = Math.min(page, pages - 1);
  if (rows.length === 0) return <Empty>{empty ?? <p>Nothing here yet.</p>}</Empty>;
  const shown = rows.slice(current * pageSize, (current + 1) * pageSize);
  return (
    <div>
      <div class="table-wrap" tabIndex={0} role="region" aria-label={caption ?? "table"}>
        <table>
          {caption && <caption class="sr-only">{caption}</caption>}
          <thead>
            <tr>
              {columns.map((c) => (
                <th scope="col" class={c.class}>
                  {c.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((row, i) => (
              <tr key={rowKey ? rowKey(row) : i}>
                {columns.map((c) => (
                  <td class={c.class} data-label={c.label}>
                    <div>{c.cell(row)}</div>
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {pages > 1 && (
        <nav class="pager" aria-label="pages">
          <button type="button" onClick={() => setPage(current - 1)} disabled={current === 0}>
            Previous
          </button>
          <span>
            Page {current + 1} of {pages} ({rows.length} rows)
          </span>
          <button type="button" onClick={() => setPage(current + 1)} disabled={current >= pages - 1}>
            Next
          </button>
        </nav>
      )}
    </div>
  );
}

const COLORS = ["#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed"];

/**
 * A uPlot chart as wide as its box. `x` are unix seconds (time axis) unless `categories` names the
 * points; `series` are the lines (or bars) over it.
 */
export function Chart({ x, series, label, height = 220, bars = false, categories }: { x: number[]; series: { label: string; values: (number | null)[] }[]; label: string; height?: number; bars?: boolean; categories?: string[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      // Categories sit on whole numbers with half a step either side; a lone day gets a day either side.
      scales: { x: categories ? { time: false, range: () => [-0.5, categories.length - 0.5] } : x.length === 1 ? { time: true, range: () => [x[0]! - 86_400, x[0]! + 86_400] } : { time: true } },
      axes: [categories ? { splits: () => categories.map((_, i) => i), values: (_u, splits) => splits.map((v) => categories[Math.round(v)] ?? "") } : {}, { size: 50 }],
      legend: { show: series.length > 1 },
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: COLORS[i % COLORS.length],
          width: 2,
          fill: bars ? `${COLORS[i % COLORS.length]}55` : undefined,
          paths: bars ? uPlot.paths.bars!({ size: [0.6, 40] }) : undefined,
          points: { show: x.length < 40 },
        })),
      ],
    };
    const plot = new uPlot(opts, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [JSON.stringify([x, series, categories]), height, bars]);
  return <div class="chart" ref={box} role="img" aria-label={label} />;
}

/** A figure beside the same figure for the period before (period over period). */
export function Stat({ label, value, previous, format = (n) => n.toLocaleString(), none }: { label: string; value: number | null; previous?: number | null; format?: (n: number) => string; none?: string }) {
  let delta: JSX.Element | null = value === null && none ? <span class="delta">{none}</span> : null;
  if (value !== null && previous !== undefined && previous !== null) {
    if (previous === 0) delta = <span class="delta">{value === 0 ? "no change" : "new"}</span>;
    else {
      const change = (value - previous) / previous;
      delta = (
        <span class={`delta ${change >= 0 ? "up" : "down"}`}>
          {change >= 0 ? "▲" : "▼"} {Math.abs(change * 100).toFixed(0)}% vs previous
        </span>
      );
    }
  }
  return (
    <div class="stat">
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value === null ? "—" : format(value)}</div>
      {delta}
    </div>
  );
}

export function Json({ value }: { value: unknown }) {
  return <pre class="json">{JSON.stringify(value, null, 2)}</pre>;
}

/** A labelled input; `error` (from the API's `path`) is shown under it and announced. */
export function Field({ label, error, hint, children }: { label: string; error?: string | null; hint?: ComponentChildren; children: (props: { id: string; "aria-invalid"?: boolean; "aria-describedby"?: string }) => ComponentChildren }) {
  const id = useId();
  const described = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children({ id, "aria-invalid": error ? true : undefined, "aria-describedby": described })}
      {hint && (
        <div class="hint" id={`${id}-hint`}>
          {hint}
        </div>
      )}
      {error && (
        <div class="field-error" id={`${id}-error`} role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

export const time = (iso: string | number | null | undefined) => (iso === null || iso === undefined ? "—" : new Date(iso).toLocaleString());
export const percent = (n: number | null | undefined) => (n === null || n === undefined || Number.isNaN(n) ? "—" : `${(n * 100).toFixed(1)}%`);
export const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);

/** Keeps a value in sync with an input's text. */
export const onText = (set: (v: string) => void) => (e: Event) => set((e.currentTarget as HTMLInputElement).value);
