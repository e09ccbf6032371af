/**
 * Calls to the admin API with the current token. A failure becomes an `ApiFailure` carrying the
 * API's `{error: {code, message, path}}`, so a form can put the message at the field it names.
 */
import { useCallback, useEffect, useState } from "preact/hooks";
import { currentSession } from "./auth";

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly path?: string,
  ) {
    super(message);
    this.name = "ApiFailure";
  }
}

type Query = Record<string, string | number | undefined | null>;

export function withQuery(path: string, query: Query = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** Listeners told when the API refuses the token (401), so the app can ask to sign in again. */
export const unauthorized = new EventTarget();

export async function api<T>(path: string, init: { method?: string; body?: unknown; query?: Query; raw?: boolean } = {}): Promise<T> {
  const session = currentSession();
  const headers: Record<string, string> = {};
  if (session) headers.Authorization = `Bearer ${session.token}`;
  let body: BodyInit | undefined;
  if (init.body instanceof Blob || typeof init.body === "string") body = init.body as BodyInit;
  else if (init.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(init.body);
  }
  const res = await fetch(withQuery(`/admin/api${path}`, init.query), { method: init.method ?? "GET", headers, body });
  if (res.status === 401) unauthorized.dispatchEvent(new Event("401"));
  if (!res.ok) {
    const answer = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string; path?: string } } | null;
    throw new ApiFailure(res.status, answer?.error?.code ?? "error", answer?.error?.message ?? `The API answered ${res.status}.`, answer?.error?.path);
  }
  if (init.raw) return (await res.text()) as T;
  return (res.status === 204 ? null : await res.json()) as T;
}

export interface Loaded<T> {
  data: T | null;
  error: ApiFailure | null;
  loading: boolean;
  reload: () => void;
}

/** GETs `path` (null: nothing yet) and again whenever `path` or `query` change. */
export function useApi<T>(path: string | null, query: Query = {}): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: ApiFailure | null; loading: boolean }>({ data: null, error: null, loading: path !== null });
  const [tick, setTick] = useState(0);
  const key = path === null ? null : withQuery(path, query);
  useEffect(() => {
    if (key === null) {
      setState({ data: null, error: null, loading: false });
      return;
    }
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    api<T>(path!, { query })
      .then((data) => live && setState({ data, error: null, loading: false }))
      .catch((error: unknown) => live && setState({ data: null, error: toFailure(error), loading: false }));
    return () => {
      live = false;
    };
  }, [key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export const toFailure = (error: unknown) => (error instanceof ApiFailure ? error : new ApiFailure(0, "network", (error as Error)?.message ?? String(error)));

let operations: Promise<Record<string, Record<string, unknown>>> | null = null;
/**
 * Whether this server has an admin operation, from its OpenAPI document (read once): pages for
 * features another server may not have (imports, predictions) check before they call, so a server
 * without them shows "not available" rather than a string of 404s.
 */
export function hasEndpoint(path: string, method = "get"): Promise<boolean> {
  operations ??= fetch("/admin/api/openapi.json")
    .then((res) => (res.ok ? (res.json() as Promise<{ paths?: Record<string, Record<string, unknown>> }>) : { paths: {} }))
    .then((doc) => doc.paths ?? {})
    .catch(() => ({}));
  return operations.then((all) => Boolean(all[`/admin/api${path}`]?.[method]));
}

/** `hasEndpoint` as a hook: null while the document loads. */
export function useHasEndpoint(path: string, method = "get"): boolean | null {
  const [has, setHas] = useState<boolean | null>(null);
  useEffect(() => {
    let live = true;
    void hasEndpoint(path, method).then((v) => live && setHas(v));
    return () => {
      live = false;
    };
  }, [path, method]);
  return has;
}
