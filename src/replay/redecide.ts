import type { Verdict } from "../operation/operation.js";
import { wantsPreview } from "../pipeline/preview-stage.js";
import type { AuthorizationRequest, PolicyEngine } from "../policy/policy-engine.js";
import type { RecordedOperation } from "./recorded-operations.js";

/**
 * One engine's decision on a recorded operation, taken the way the pipeline takes it (operation-pipeline.ts
 * admit, preview-stage.ts): a first decision, then, when the engine's `@preview` permits want a preview, the
 * final one with `context.preview` from the preview the record holds. A preview cannot be run again (the data
 * has changed since), so an operation that was never previewed, and that a previewer would run, is not
 * re-decided for an engine that would preview it: the reason is returned instead of a guess.
 */

/**
 * Whether the gateway would have run a preview for this operation, had a `@preview` permit asked for one: the
 * conditions of the session previewers (protocols/postgres/session-preview.ts, protocols/mysql/session-preview.ts),
 * which run one statement sent as a plain query, PostgreSQL's simple Query or MySQL's COM_QUERY ("text", not
 * an SQL-level EXECUTE), and refuse everything else (extended protocol, prepared statements, several statements).
 * Other protocols (SSH, HTTP, MCP) have no previewer. A refused preview is decided without one, so those
 * operations are re-decided as they were; only a previewable one needs the preview the record lacks.
 */
function previewable(operation: RecordedOperation, request: AuthorizationRequest): boolean {
  if (request.steps.length !== 1) return false;
  if (operation.mode === "simple") return true;
  return operation.mode === "text" && !/^\s*execute\b/i.test(operation.texts[0] ?? "");
}

/** Why an operation was not re-decided; `needsPreview` when only a preview the record lacks would decide it. */
export interface NotRedecided {
  readonly reason: string;
  readonly needsPreview: boolean;
}

const needsPreview = (which: string): NotRedecided => ({
  reason: `needs a preview: never previewed, and a @preview permit of the ${which} policies would preview it`,
  needsPreview: true,
});
const NEEDS_PREVIEW = { current: needsPreview("current"), candidate: needsPreview("candidate") };

export function redecide(
  engine: PolicyEngine,
  request: AuthorizationRequest,
  operation: RecordedOperation,
  which: "current" | "candidate",
): { readonly verdict: Verdict } | NotRedecided {
  const first = engine.authorize(request);
  if (engine.wantsPreview === undefined || !wantsPreview(engine, first, request)) return { verdict: first };
  const preview = operation.preview;
  if (typeof preview === "string") return { reason: preview, needsPreview: false };
  // No preview tried: the previewer would refuse it (decided as it was), or the policies asked for none then.
  if (preview === undefined)
    return previewable(operation, request) ? NEEDS_PREVIEW[which] : { verdict: first };
  // Refused or failed: decided without `context.preview`, as it was then.
  if (preview === null) return { verdict: first };
  return { verdict: engine.authorize({ ...request, preview }) };
}
