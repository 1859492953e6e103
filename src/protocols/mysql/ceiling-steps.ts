/**
 * The steps of one statement held to its row ceiling (row-ceiling.ts has the rules), as decisions the session
 * carries out: what goes to the server, what the client hears and when the command is complete. Kept out of
 * the session so its relay loop only dispatches; pure apart from the run's own state.
 */
import { LatchError } from "../../errors.js";
import { errorPacket } from "./errors.js";
import type { ResponseSummary } from "./response-tracker.js";
import { type CeilingRun, judgeCeiling, sequenceOf, withStatus } from "./row-ceiling.js";

export type CeilingStep =
  /** Latch's own COMMIT or ROLLBACK: send it, and feed its answer to `hiddenAnswered`. */
  | { readonly kind: "send"; readonly toServer: Buffer }
  /** START TRANSACTION succeeded: forward the client's statement now. */
  | { readonly kind: "run" }
  /**
   * The command is complete: `toClient` (the statement's final packet or the error in its place), the summary
   * its operation_result records, the server status now, and whether Latch rolled back the client's transaction.
   */
  | {
      readonly kind: "done";
      readonly toClient?: Buffer;
      readonly summary: ResponseSummary;
      readonly status: number;
      readonly rolledBack?: string;
    };

export interface CeilingContext {
  /** The server status before this step (the session's). */
  readonly status: number;
  readonly capabilities: number;
  readonly connection: string;
  /** Sequence id for an answer to the client's command when nothing of the server's is held. */
  readonly answerSequence: number;
}

/** The statement's final packet arrived; `relayed` is it as the client would get it (after masking). */
export function statementFinished(
  run: CeilingRun,
  summary: ResponseSummary,
  relayed: Buffer | undefined,
  context: CeilingContext,
): CeilingStep {
  run.held = relayed === undefined ? undefined : Buffer.from(relayed);
  const next = judgeCeiling(run, summary);
  if (next === undefined) return finish(run, context.status, context);
  run.stage = "settle";
  return { kind: "send", toServer: next };
}

/** The answer to Latch's own START TRANSACTION, COMMIT or ROLLBACK. */
export function hiddenAnswered(
  run: CeilingRun,
  answer: ResponseSummary,
  context: CeilingContext,
): CeilingStep {
  if (run.stage === "begin") {
    if (answer.error === undefined) {
      run.stage = "statement";
      return { kind: "run" };
    }
    // Fail closed: the statement never runs unguarded.
    const error = new LatchError("upstream_unavailable", {
      name: context.connection,
      reason: `START TRANSACTION for the row ceiling failed: ${answer.error.message}`,
    });
    run.refusal = error;
    run.summary = { rows: 0, affectedRows: 0, status: context.status };
    return finish(run, context.status, context);
  }
  if (answer.error !== undefined && run.refusal === undefined && run.summary?.error === undefined) {
    // The COMMIT failed: the client hears that instead of the statement's success.
    run.refusal = new LatchError("upstream_unavailable", {
      name: context.connection,
      reason: `COMMIT after the statement failed: ${answer.error.message}`,
    });
  }
  return finish(run, answer.error === undefined ? answer.status : context.status, context);
}

function finish(run: CeilingRun, status: number, context: CeilingContext): CeilingStep {
  const summary = run.summary!;
  const refusal = run.refusal;
  if (refusal !== undefined) {
    const rolledBack =
      !run.opened && refusal.code === "row_ceiling_exceeded"
        ? `a statement in it changed more rows than its preview showed (ceiling ${run.ceiling.maxRows})`
        : undefined;
    return {
      kind: "done",
      toClient: errorPacket(refusal, sequenceOf(run.held, context.answerSequence)),
      summary: { ...summary, error: { code: refusal.code, message: refusal.message } },
      status,
      ...(rolledBack === undefined ? {} : { rolledBack }),
    };
  }
  const held = run.held;
  const committed = run.opened && summary.error === undefined;
  return {
    kind: "done",
    ...(held === undefined || held.length === 0
      ? {}
      : { toClient: committed ? withStatus(held, status, context.capabilities) : held }),
    summary: run.opened ? { ...summary, status } : summary,
    status,
  };
}
