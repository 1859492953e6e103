import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import type { Identity } from "../identity/identity.js";
import type { LoadedPolicies } from "./load-policies.js";
import { ACTIONS } from "./policy-actions.js";

type Uid = { readonly type: string; readonly id: string };
type Constraint =
  | { readonly op: "All" }
  | { readonly op: "=="; readonly entity?: Uid; readonly slot?: string }
  | { readonly op: "in"; readonly entity?: Uid; readonly entities?: readonly Uid[]; readonly slot?: string }
  | { readonly op: "is"; readonly entity_type: string; readonly in?: { readonly entity?: Uid } };

interface PermitScope {
  readonly principal: Constraint;
  readonly action: Constraint;
  readonly resource: Constraint;
}

export interface PolicyReachQuestion {
  readonly identity: Identity;
  readonly connection: string;
  readonly actions: readonly string[];
}

/**
 * "Could any permit ever apply?" from the permits' scopes alone: a permit reaches a question when its principal
 * scope can be the caller (itself or one of its groups), its action scope holds one of the actions (or a group
 * of one), and its resource scope can be the connection or something in it (a table or function named
 * "<connection>/..."). Conditions and forbids are ignored, i.e. taken as possibly letting it through, so a
 * `false` is a proof that no request of the caller for those actions there can be allowed; a `true` is only
 * "maybe". A scope this does not understand counts as reaching (the safe side for a read-only claim).
 */
export function createPolicyReach(policies: LoadedPolicies): (question: PolicyReachQuestion) => boolean {
  const scopes: PermitScope[] = [];
  for (const policy of policies.policies) {
    if (policy.effect !== "permit") continue;
    const parsed = cedar.policyToJson(policy.text);
    if (parsed.type !== "success") {
      scopes.push({ principal: { op: "All" }, action: { op: "All" }, resource: { op: "All" } });
      continue;
    }
    const json = parsed.json as unknown as PermitScope;
    scopes.push({ principal: json.principal, action: json.action, resource: json.resource });
  }
  return (question) => {
    const actions = new Set(question.actions.flatMap(actionAndGroups));
    return scopes.some(
      (scope) =>
        principalReaches(scope.principal, question.identity) &&
        actionReaches(scope.action, actions) &&
        resourceReaches(scope.resource, question.connection),
    );
  };
}

function actionAndGroups(action: string): string[] {
  const chain = [action];
  let group = (ACTIONS as Record<string, { group: string | null } | undefined>)[action]?.group ?? null;
  while (group !== null && !chain.includes(group)) {
    chain.push(group);
    group = (ACTIONS as Record<string, { group: string | null } | undefined>)[group]?.group ?? null;
  }
  return chain;
}

function principalReaches(constraint: Constraint, identity: Identity): boolean {
  const matches = (uid: Uid | undefined) =>
    uid === undefined ||
    (uid.type === "User" && uid.id === identity.subject) ||
    (uid.type === "Group" && identity.groups.includes(uid.id));
  switch (constraint.op) {
    case "All":
      return true;
    case "==":
      return (
        constraint.entity === undefined || (constraint.entity.type === "User" && matches(constraint.entity))
      );
    case "in":
      return constraint.entity === undefined
        ? (constraint.entities ?? []).some(matches)
        : matches(constraint.entity);
    case "is":
      return constraint.entity_type === "User" && matches(constraint.in?.entity);
    default:
      return true;
  }
}

function actionReaches(constraint: Constraint, actions: ReadonlySet<string>): boolean {
  const holds = (uid: Uid | undefined) => uid === undefined || actions.has(uid.id);
  switch (constraint.op) {
    case "All":
      return true;
    case "==":
      return holds(constraint.entity);
    case "in":
      return constraint.entity === undefined
        ? (constraint.entities ?? []).some(holds)
        : holds(constraint.entity);
    default:
      return true;
  }
}

function resourceReaches(constraint: Constraint, connection: string): boolean {
  const within = (uid: Uid | undefined) =>
    uid === undefined ||
    (uid.type === "Connection" && uid.id === connection) ||
    uid.id.startsWith(`${connection}/`);
  switch (constraint.op) {
    case "All":
      return true;
    case "==":
    case "in":
      return within(constraint.entity);
    case "is":
      return within(constraint.in?.entity);
    default:
      return true;
  }
}
