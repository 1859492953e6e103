import type { Logger } from "pino";
import type { Verdict } from "../operation/operation.js";
import type { StatementPreview } from "../operation/statement-preview.js";
import type { AuthorizationRequest, PolicyEngine } from "../policy/policy-engine.js";

/**
 * Stage "preview", between the first and the final decision (docs/approvals.md, "Preview, then commit"). An
 * operation is previewed when the protocol can preview it, a `@preview("true")` permit's scope covers one of
 * its writes, and the decision without a preview is not a denial by a `forbid`: a forbidden statement never
 * runs, not even rolled back. The final decision is then taken with `context.preview` (absent when the preview
 * was refused or failed, so `context has preview` is false and rules written for that case apply).
 */
export function wantsPreview(policy: PolicyEngine, first: Verdict, request: AuthorizationRequest): boolean {
  if (policy.wantsPreview === undefined) return false;
  if (first.decision === "deny" && first.rules.length > 0) return false;
  try {
    return policy.wantsPreview(request);
  } catch {
    // The scope check failed: decide without a preview (the first decision stands; nothing runs early).
    return false;
  }
}

/** Never rejects: a previewer that throws gives a `failed` preview, and the decision goes on without it. */
export async function runPreview(
  preview: { readonly run: () => Promise<StatementPreview> },
  log: Logger,
  operationId: string,
): Promise<StatementPreview> {
  try {
    return await preview.run();
  } catch (error) {
    log.warn({ err: error, operationId }, "preview failed");
    return { status: "failed", reason: `the preview failed: ${(error as Error).message}`, at: Date.now() };
  }
}
