/**
 * Profile keys (DESIGN.md §2): `<workspace>:user:<userId>` for known users,
 * `<workspace>:anon:<anonymousId>` otherwise. The Durable Object id is `idFromName(key)`.
 */

export type ProfileKey = `${string}:${"user" | "anon"}:${string}`;

export function profileKey(workspaceId: string, ids: { userId?: string; anonymousId?: string }): ProfileKey | undefined {
  if (ids.userId) return `${workspaceId}:user:${ids.userId}`;
  if (ids.anonymousId) return `${workspaceId}:anon:${ids.anonymousId}`;
  return undefined;
}

export function profileStub(namespace: Env["PROFILES"], key: ProfileKey) {
  return namespace.get(namespace.idFromName(key));
}

/** The parts of a profile key; the workspace id has no colon, the user or anonymous id may. */
export function parseProfileKey(key: string): { workspaceId: string; kind: "user" | "anon"; id: string } | undefined {
  const match = /^([^:]+):(user|anon):(.*)$/.exec(key);
  return match ? { workspaceId: match[1]!, kind: match[2] as "user" | "anon", id: match[3]! } : undefined;
}

/** The Segment ids a profile key stands for: `{userId}` or `{anonymousId}`. */
export function idsOfKey(key: string): { userId: string } | { anonymousId: string } | Record<string, never> {
  const parsed = parseProfileKey(key);
  if (!parsed) return {};
  return parsed.kind === "user" ? { userId: parsed.id } : { anonymousId: parsed.id };
}
