/** Overview: a site at a glance (events over time, visitors, visitors now, consent rates). */
import { useEffect, useState } from "preact/hooks";
import { useApi } from "../api";
import { snippet, useApp } from "../context";
import { Card, Chart, Empty, ErrorNote, Loading, Page, percent, Stat } from "../ui";

interface Overview {
  period: string;
  bucketMinutes: number;
  series: { at: string; events: number }[];
  events: { current: number; previous: number };
  visitors: { current: number; previous: number };
  currentVisitors: number;
  consent: { purpose: string; granted: number; denied: number; rate: number | null; previousRate: number | null }[];
}

const PERIODS = [
  ["1h", "Last hour"],
  ["24h", "Last 24 hours"],
  ["7d", "Last 7 days"],
] as const;

export function OverviewPage() {
  const { site } = useApp();
  const [period, setPeriod] = useState<string>("24h");
  const overview = useApi<Overview>(site ? "/overview" : null, { siteId: site?.id, period });
  // The figures refresh every 30 s while the page is open.
  useEffect(() => {
    const timer = setInterval(overview.reload, 30_000);
    return () => clearInterval(timer);
  }, [overview.reload]);
  if (!site) return <NoSite />;
  const o = overview.data;
  const perMinute = o ? o.series.map((b) => b.events / o.bucketMinutes) : [];
  return (
    <Page
      title="Overview"
      intro={`${site.name}: what happened on the site, against the period before.`}
      actions={
        <label class="inline">
          Period{" "}
          <select value={period} onChange={(e) => setPeriod(e.currentTarget.value)}>
            {PERIODS.map(([value, label]) => (
              <option value={value}>{label}</option>
            ))}
          </select>
        </label>
      }
    >
      <ErrorNote error={overview.error} />
      {!o && overview.loading && <Loading />}
      {o && (
        <>
          {o.events.current === 0 && o.events.previous === 0 && <Snippet />}
          <div class="stats">
            <Stat label="Events" value={o.events.current} previous={o.events.previous} />
            <Stat label="Visitors" value={o.visitors.current} previous={o.visitors.previous} />
            <Stat label="Visitors now (5 min)" value={o.currentVisitors} />
            {o.consent.map((c) => (
              <Stat label={`Consent: ${c.purpose}`} value={c.rate} previous={c.previousRate} format={percent} none="no choice made in the period" />
            ))}
          </div>
          <Card title={`Events per minute (${o.bucketMinutes === 1 ? "each minute" : `averaged over ${o.bucketMinutes} min`})`}>
            <Chart x={o.series.map((b) => Date.parse(b.at) / 1000)} series={[{ label: "events/min", values: perMinute }]} label="Events per minute over the period" bars={o.series.length <= 60} />
          </Card>
        </>
      )}
    </Page>
  );
}

/** The empty state of a site without events: its tag snippet, ready to paste. */
export function Snippet() {
  const { site } = useApp();
  if (!site) return null;
  return (
    <Empty>
      <p>
        <strong>No events yet:</strong> paste this snippet into the <code>&lt;head&gt;</code> of {site.origins.join(", ") || "the site's pages"}.
      </p>
      <pre class="snippet">{snippet(site)}</pre>
    </Empty>
  );
}

export function NoSite() {
  const { session } = useApp();
  return (
    <Page title="No site yet">
      <Empty>
        <p>This workspace ({session.ws}) has no site yet. {session.role === "admin" ? <a href="#/sites">Create one on the Sites page.</a> : "Ask an admin to create one."}</p>
      </Empty>
    </Page>
  );
}
