/** Sites and keys: each site's write key, snippet and origins; create a site, rotate its identity secret. */
import { useState } from "preact/hooks";
import { api, toFailure, type ApiFailure } from "../api";
import { may } from "../auth";
import { snippet, useApp, type Site } from "../context";
import { Card, Empty, ErrorNote, Field, onText, Page, time } from "../ui";

const originList = (text: string) => text.split(/[\s,]+/).map((o) => o.trim()).filter(Boolean);

/** A secret shown once, with the reason it will not be shown again. */
function Secret({ label, value }: { label: string; value: string }) {
  return (
    <div class="secret">
      <div>
        {label} <span class="muted">(shown once: keep it now)</span>
      </div>
      <pre class="snippet">{value}</pre>
    </div>
  );
}

export function SitesPage() {
  const { sites, session } = useApp();
  const admin = may(session.role, "admin");
  return (
    <Page title="Sites and keys" intro="A site is where the tag runs: its public write key works only from its origins; its secret key and identity secret belong on its servers.">
      {admin && <NewSite />}
      {sites.length === 0 && (
        <Empty>
          <p>No sites yet.</p>
        </Empty>
      )}
      {sites.map((site) => (
        <SiteCard key={site.id} site={site} admin={admin} />
      ))}
    </Page>
  );
}

function NewSite() {
  const { reloadSites } = useApp();
  const [name, setName] = useState("");
  const [origins, setOrigins] = useState("");
  const [error, setError] = useState<ApiFailure | null>(null);
  const [created, setCreated] = useState<{ name: string; secretKey: string; identitySecret: string } | null>(null);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const answer = await api<{ name: string; secretKey: string; identitySecret: string }>("/sites", { method: "POST", body: { name, origins: originList(origins) } });
      setCreated(answer);
      setName("");
      setOrigins("");
      reloadSites();
    } catch (err) {
      setError(toFailure(err));
    }
  };
  const originError = error?.path?.startsWith("origins") ? error.message : null;
  return (
    <Card title="New site">
      <form onSubmit={save}>
        <Field label="Name" error={error?.path === "name" ? error.message : null}>
          {(props) => <input {...props} required value={name} onInput={onText(setName)} placeholder="Shop" />}
        </Field>
        <Field label="Origins (one a line)" error={originError} hint="Where the tag may send from, e.g. https://shop.example or https://*.example.com">
          {(props) => <textarea {...props} rows={2} required value={origins} onInput={onText(setOrigins)} />}
        </Field>
        {error && !originError && error.path !== "name" && <ErrorNote error={error} />}
        <button type="submit" class="primary">
          Create site
        </button>
      </form>
      {created && (
        <div role="status">
          <p>Created {created.name}.</p>
          <Secret label="Secret key (server)" value={created.secretKey} />
          <Secret label="Identity secret (userHash)" value={created.identitySecret} />
        </div>
      )}
    </Card>
  );
}

function SiteCard({ site, admin }: { site: Site; admin: boolean }) {
  const { reloadSites } = useApp();
  const [origins, setOrigins] = useState(site.origins.join("\n"));
  const [error, setError] = useState<ApiFailure | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const saveOrigins = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      await api(`/sites/${site.id}`, { method: "PATCH", body: { origins: originList(origins) } });
      setNote("Origins saved; every isolate has them within 30 s.");
      reloadSites();
    } catch (err) {
      setError(toFailure(err));
    }
  };
  const rotate = async () => {
    if (!confirm(`Rotate the identity secret of ${site.name}? userHashes made with the old one stop verifying at once.`)) return;
    setError(null);
    try {
      setSecret((await api<{ identitySecret: string }>(`/sites/${site.id}/identity-secret`, { method: "POST" })).identitySecret);
    } catch (err) {
      setError(toFailure(err));
    }
  };
  return (
    <Card title={site.name}>
      <dl class="facts">
        <dt>Id</dt>
        <dd>
          <code>{site.id}</code>
        </dd>
        <dt>Write key</dt>
        <dd>
          <code>{site.writeKey}</code>
        </dd>
        <dt>Identity verification</dt>
        <dd>{site.identityVerification}</dd>
        <dt>Retention</dt>
        <dd>{site.retentionDays} days</dd>
        <dt>Created</dt>
        <dd>{time(site.createdAt)}</dd>
        <dt>Status</dt>
        <dd>{site.enabled ? "enabled" : "disabled"}</dd>
      </dl>
      <div class="field">
        <div>Snippet</div>
        <pre class="snippet">{snippet(site)}</pre>
      </div>
      {admin ? (
        <form onSubmit={saveOrigins}>
          <Field label="Origins (one a line)" error={error?.path?.startsWith("origins") ? error.message : null}>
            {(props) => <textarea {...props} rows={Math.max(2, site.origins.length)} value={origins} onInput={onText(setOrigins)} />}
          </Field>
          <div class="actions">
            <button type="submit">Save origins</button>
            <button type="button" class="danger" onClick={rotate}>
              Rotate identity secret
            </button>
          </div>
        </form>
      ) : (
        <p>Origins: {site.origins.join(", ")}</p>
      )}
      {error && !error.path?.startsWith("origins") && <ErrorNote error={error} />}
      {note && <p role="status">{note}</p>}
      {secret && <Secret label="New identity secret" value={secret} />}
    </Card>
  );
}
