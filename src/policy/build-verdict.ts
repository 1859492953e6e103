import type { Access, Verdict } from "../operation/operation.js";
import type { AccessOutcome, ApprovalOption } from "./access-outcome.js";
import { describeResource } from "./build-entities.js";
import type { AuthorizationRequest } from "./policy-engine.js";

/**
 * Combines the outcomes of an operation's accesses into one verdict (deny if any access is denied, else
 * approval if any needs approval, else allow) and words the reason for the client and the record.
 */

export interface EvaluatedAccess {
  readonly access: Access;
  /** 1-based position of the statement in the operation, for messages about multi-statement text. */
  readonly statementNumber: number;
  readonly outcome: AccessOutcome;
}

export function buildVerdict(request: AuthorizationRequest, evaluated: readonly EvaluatedAccess[]): Verdict {
  const refused = evaluated.find((item) => item.outcome.kind === "deny" || item.outcome.kind === "error");
  if (refused !== undefined) return refusalVerdict(request, refused);
  const needingApproval = evaluated.filter((item) => item.outcome.kind === "approval");
  if (needingApproval.length > 0) return approvalVerdict(request, needingApproval);
  const only = evaluated.length === 1 ? evaluated[0]!.outcome : undefined;
  // An allow verdict depends only on the permits, so a single cached access reuses its verdict object.
  const remembered = only === undefined ? undefined : allowVerdicts.get(only);
  if (remembered !== undefined) return remembered;
  const permits = unique(
    evaluated.flatMap((item) => (item.outcome.kind === "allow" ? item.outcome.permits : [])),
  );
  const verdict: Verdict = {
    decision: "allow",
    rules: permits,
    reason: `allowed by ${permits.length === 1 ? "policy" : "policies"} ${permits.join(", ")}`,
  };
  if (only !== undefined) allowVerdicts.set(only, verdict);
  return verdict;
}

const allowVerdicts = new WeakMap<AccessOutcome, Verdict>();

/** A deny for a problem found before any access was evaluated (nothing to authorize, internal error). */
export function denyVerdict(reason: string, rules: readonly string[] = []): Verdict {
  return { decision: "deny", rules, reason };
}

function refusalVerdict(request: AuthorizationRequest, refused: EvaluatedAccess): Verdict {
  const { outcome } = refused;
  const subject = describeAccess(request, refused.access);
  const who = describeCaller(request);
  const where = refused.access.resource.type === "Connection" ? "" : ` on connection ${request.connection}`;
  const allOrNothing = describeAllOrNothing(request, refused.statementNumber);
  if (outcome.kind === "error") {
    return denyVerdict(
      `${subject} could not be authorized for ${who}${where}: policy evaluation failed (${outcome.message}); denied to be safe${allOrNothing}`,
      outcome.policies,
    );
  }
  if (outcome.kind === "deny" && outcome.forbids.length > 0) {
    const policies = `${outcome.forbids.length === 1 ? "policy" : "policies"} ${outcome.forbids.join(", ")}`;
    return denyVerdict(
      `${subject} is forbidden for ${who}${where} by ${policies}${allOrNothing}`,
      outcome.forbids,
    );
  }
  return denyVerdict(
    `${subject} is not permitted for ${who}${where} (no permit matched; deny by default)${allOrNothing}`,
  );
}

function approvalVerdict(request: AuthorizationRequest, items: readonly EvaluatedAccess[]): Verdict {
  const optionsPerAccess = items.map((item) =>
    item.outcome.kind === "approval" ? item.outcome.options : [],
  );
  const firstOptions = optionsPerAccess[0] ?? [];
  // One request carries one group and quorum: pick the first group (in policy order) every access accepts.
  const group = firstOptions
    .map((option) => option.group)
    .find((candidate) => optionsPerAccess.every((options) => options.some((o) => o.group === candidate)));
  if (group === undefined) {
    const needs = items.map((item, index) => {
      const groups = unique((optionsPerAccess[index] ?? []).map((option) => option.group)).join(" or ");
      return `${describeAccess(request, item.access)} needs ${groups}`;
    });
    return denyVerdict(
      `this message needs approvals from different groups (${needs.join("; ")}), which one request cannot carry; send those statements separately`,
      unique(optionsPerAccess.flat().map((option) => option.policy)),
    );
  }
  const chosen = optionsPerAccess.map((options) => cheapestOption(options, group));
  const quorum = Math.max(...chosen.map((option) => option.quorum));
  const rules = unique(chosen.map((option) => option.policy));
  const first = items[0]!;
  const more =
    items.length > 1 ? ` (and ${items.length - 1} more ${items.length === 2 ? "access" : "accesses"})` : "";
  const approvers = quorum === 1 ? `one member of group ${group}` : `${quorum} members of group ${group}`;
  const where = first.access.resource.type === "Connection" ? "" : ` on connection ${request.connection}`;
  return {
    decision: "approval",
    rules,
    reason: `${describeAccess(request, first.access)}${where}${more} needs approval by ${approvers} (${rules.length === 1 ? "policy" : "policies"} ${rules.join(", ")})`,
    approval: { group, quorum },
  };
}

/** Among an access's options for `group`, the one asking the fewest approvers. */
function cheapestOption(options: readonly ApprovalOption[], group: string): ApprovalOption {
  const forGroup = options.filter((option) => option.group === group);
  return forGroup.reduce((best, option) => (option.quorum < best.quorum ? option : best), forGroup[0]!);
}

function describeAccess(request: AuthorizationRequest, access: Access): string {
  return `${access.action} on ${describeResource(request.connection, access.resource)}`;
}

function describeCaller(request: AuthorizationRequest): string {
  const groups = request.identity.groups;
  return `${request.identity.subject} (${groups.length === 0 ? "no groups" : `groups: ${groups.join(", ")}`})`;
}

function describeAllOrNothing(request: AuthorizationRequest, statementNumber: number): string {
  const count = request.steps.length;
  if (count <= 1) return "";
  return `; in statement ${statementNumber} of ${count}, so none of them was run`;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
