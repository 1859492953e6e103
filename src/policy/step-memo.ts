import type { OperationStep, Verdict } from "../operation/operation.js";
import type { EvaluatedAccess } from "./build-verdict.js";
import type { RequestScope } from "./decision-keys.js";

/**
 * The admission memo: what the engine decided for one step object under one request scope, so a repeated
 * prepared statement (the registry hands back the same step object every Execute), or a simple one the
 * classification cache answered with the same step, costs a WeakMap lookup instead of building its
 * decision-cache key strings (about 1 KB of heap per statement).
 *
 * Why a hit cannot answer for someone else: the scope is compared by identity, and decision-keys.ts builds
 * one scope object per caller memo (one Identity object, connection, labels object, client address) and
 * minute, so the same object means the same principal, connection, labels, client and time bucket; a new
 * minute is a new scope and a miss, so time-of-day and `context.local_time` change decisions exactly where
 * the decision cache does. The memo belongs to one engine: a policy reload builds a new engine and drops it.
 * It holds only outcomes that were cached anyway (never errors, never a decision on a preview's row count),
 * and answers with the verdict the engine computed; approvals, grants, block and kill stay with the pipeline.
 */

interface Memo {
  readonly scope: RequestScope;
  /** `context.statement.statement_count` and the "statement n of m" wording depend on both. */
  readonly stepCount: number;
  readonly statementNumber: number;
  /** The step's accesses in order, up to and including the first refusal. */
  readonly evaluated: readonly EvaluatedAccess[];
  /** The whole operation's verdict, kept when the step was the operation (stepCount 1). */
  readonly verdict: Verdict | undefined;
}

export class StepMemo {
  // Keyed by the step object: when the classifier or the prepared registry lets go of it, the entry goes too.
  private readonly memos = new WeakMap<OperationStep, Memo>();

  /** What this step decided under this scope at this position, or undefined (a miss: evaluate afresh). */
  get(
    step: OperationStep,
    scope: RequestScope,
    stepCount: number,
    statementNumber: number,
  ): Memo | undefined {
    const memo = this.memos.get(step);
    if (
      memo === undefined ||
      memo.scope !== scope ||
      memo.stepCount !== stepCount ||
      memo.statementNumber !== statementNumber
    ) {
      return undefined;
    }
    return memo;
  }

  set(
    step: OperationStep,
    scope: RequestScope,
    stepCount: number,
    statementNumber: number,
    evaluated: readonly EvaluatedAccess[],
    verdict?: Verdict,
  ): void {
    this.memos.set(step, { scope, stepCount, statementNumber, evaluated, verdict });
  }
}
