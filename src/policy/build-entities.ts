import type { EntityJson, EntityUidJson } from "@cedar-policy/cedar-wasm/nodejs";
import type { Identity } from "../identity/identity.js";
import type { ResourceRef } from "../operation/operation.js";
import { ACTIONS, type ActionId } from "./policy-actions.js";

/**
 * The Cedar entities of one request: the caller with its groups as parents, the action with its group
 * as parent (so `action in Action::"sql:write"` works without the schema at evaluation time), the
 * connection with its labels, and the table or function under it.
 */

export function userUid(subject: string): EntityUidJson {
  return { type: "User", id: subject };
}

export function actionUid(action: string): EntityUidJson {
  return { type: "Action", id: action };
}

export function connectionUid(connection: string): EntityUidJson {
  return { type: "Connection", id: connection };
}

/** Table::"<conn>/<schema.table>", Function::"<conn>/<name>" or the connection itself. */
export function resourceUid(connection: string, resource: ResourceRef): EntityUidJson {
  if (resource.type === "Connection") return connectionUid(connection);
  return { type: resource.type, id: `${connection}/${resource.name}` };
}

export function userEntity(identity: Identity): EntityJson {
  return {
    uid: userUid(identity.subject),
    attrs: { issuer: identity.issuer },
    parents: identity.groups.map((group) => ({ type: "Group", id: group })),
  };
}

export function connectionEntity(connection: string, labels: readonly string[]): EntityJson {
  return { uid: connectionUid(connection), attrs: { labels: [...labels] }, parents: [] };
}

export function actionEntity(action: ActionId): EntityJson {
  const group = ACTIONS[action].group;
  return { uid: actionUid(action), attrs: {}, parents: group === null ? [] : [actionUid(group)] };
}

/** The resource's own entity, or undefined when the resource is the connection (already present). */
export function resourceEntity(
  connection: string,
  resource: ResourceRef,
  sensitivity = "none",
): EntityJson | undefined {
  if (resource.type === "Connection") return undefined;
  const attrs: Record<string, string> = resource.type === "Table" ? { sensitivity } : {};
  return { uid: resourceUid(connection, resource), attrs, parents: [connectionUid(connection)] };
}

/** "table public.users", "function pg_catalog.pg_sleep", "connection analytics": for reasons in English. */
export function describeResource(connection: string, resource: ResourceRef): string {
  if (resource.type === "Connection") return `connection ${connection}`;
  return `${resource.type.toLowerCase()} ${resource.name}`;
}
