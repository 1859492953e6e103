/**
 * Reads the caller's groups from a verified claims set.
 *
 * `claimPath` is a claim name or a dotted path into nested objects (`realm_access.roles`). A claim whose own
 * name contains dots is found too, at any level: at each level the longest literal name wins over the path
 * (Auth0-style `https://example.com/groups` at the top, Kubernetes' `kubernetes.io` -> `namespace` nested). The value may be an array of strings or one string separated by spaces or commas; any other shape
 * yields no groups at all rather than a partial guess.
 */
export function readGroupsClaim(claims: Readonly<Record<string, unknown>>, claimPath: string): string[] {
  const value = walkPath(claims, claimPath.split("."));
  if (typeof value === "string") return normalize(value.split(/[\s,]+/));
  if (Array.isArray(value) && value.every((member) => typeof member === "string")) return normalize(value);
  return [];
}

function walkPath(root: unknown, segments: readonly string[]): unknown {
  if (segments.length === 0) return root;
  // Only plain JSON objects are walked, and only their own keys: never arrays or the prototype chain.
  if (!isJsonObject(root)) return undefined;
  for (let take = segments.length; take >= 1; take--) {
    const key = segments.slice(0, take).join(".");
    if (Object.hasOwn(root, key)) return walkPath(root[key], segments.slice(take));
  }
  return undefined;
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function normalize(names: readonly string[]): string[] {
  const groups = new Set<string>();
  for (const name of names) {
    const trimmed = name.trim();
    if (trimmed !== "") groups.add(trimmed);
  }
  return [...groups];
}
