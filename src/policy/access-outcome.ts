import type { AuthorizationAnswer } from "@cedar-policy/cedar-wasm/nodejs";
import type { LoadedPolicy } from "./load-policies.js";

/** What policy says about one access (one action on one resource), before combining an operation's accesses. */
export type AccessOutcome =
  | { readonly kind: "allow"; readonly permits: readonly string[] }
  /** Only permits annotated @approval matched: any one of these options, once approved, allows the access. */
  | { readonly kind: "approval"; readonly options: readonly ApprovalOption[] }
  /** `forbids` is empty when nothing matched (deny by default). */
  | { readonly kind: "deny"; readonly forbids: readonly string[] }
  | { readonly kind: "error"; readonly message: string; readonly policies: readonly string[] };

export interface ApprovalOption {
  readonly policy: string;
  readonly group: string;
  readonly quorum: number;
}

/**
 * Reads Cedar's answer. Fails closed: a wasm failure or any policy that errored during evaluation (Cedar
 * itself would skip such a policy and decide without it) makes the access an error, which denies.
 */
export function outcomeOfAnswer(
  answer: AuthorizationAnswer,
  policiesById: ReadonlyMap<string, LoadedPolicy>,
  policyOrder: ReadonlyMap<string, number>,
): AccessOutcome {
  if (answer.type === "failure") {
    return { kind: "error", message: answer.errors.map((error) => error.message).join("; "), policies: [] };
  }
  const { decision, diagnostics } = answer.response;
  if (diagnostics.errors.length > 0) {
    const message = diagnostics.errors
      .map((error) => `policy ${error.policyId}: ${error.error.message}`)
      .join("; ");
    return { kind: "error", message, policies: diagnostics.errors.map((error) => error.policyId) };
  }
  // Cedar does not promise an order for the deciding policies; file order keeps verdicts reproducible.
  const deciding = [...diagnostics.reason].sort(
    (a, b) =>
      (policyOrder.get(a) ?? Number.MAX_SAFE_INTEGER) - (policyOrder.get(b) ?? Number.MAX_SAFE_INTEGER),
  );
  if (decision === "deny") return { kind: "deny", forbids: deciding };
  const plainPermits = deciding.filter((id) => policiesById.get(id)?.approval === undefined);
  if (plainPermits.length > 0) return { kind: "allow", permits: plainPermits };
  const options = deciding.flatMap((id) => {
    const approval = policiesById.get(id)?.approval;
    return approval === undefined ? [] : [{ policy: id, group: approval.group, quorum: approval.quorum }];
  });
  // An allow with no deciding policy cannot happen in Cedar; treat it as the error it would be.
  if (options.length === 0)
    return { kind: "error", message: "allow without a deciding permit", policies: [] };
  return { kind: "approval", options };
}
