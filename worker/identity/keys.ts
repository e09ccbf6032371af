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
