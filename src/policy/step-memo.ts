import type { Access, OperationStep, StepFacts, Verdict } from "../operation/operation.js";
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
 *
 * Keyed by what a decision reads of a step, not by the step: its accesses array, action and facts object
 * (the text is only recorded, never evaluated). A classifier that re-issues a cached classification for a
 * literal variant (`... WHERE id=7` after `... WHERE id=3`: a new step with its own text) shares those three
 * objects, so the variant is a hit too; a step built afresh has a new accesses array and misses, as before.
 * Entries compare action and facts by identity, so two steps that share an array but not the facts (or the
 * action) never answer for each other.
 */

interface Memo {
  readonly action: string;
  readonly facts: StepFacts;
  readonly scope: RequestScope;
  /** `context.statement.statement_count` and the "statement n of m" wording depend on both. */
  readonly stepCount: number;
  readonly statementNumber: number;
  /** The step's accesses in order, up to and including the first refusal. */
  readonly evaluated: readonly EvaluatedAccess[];
  /** The whole operation's verdict, kept when the step was the operation (stepCount 1). */
  readonly verdict: Verdict | undefined;
}

/**
 * Scopes remembered per step: sessions that share a step object (the classification cache hands every session
 * the same one for a text) each have their own scope; with one slot they took it from each other on every
 * statement under concurrent load.
 */
const SCOPES_PER_STEP = 16;

export class StepMemo {
  // Keyed by the step's accesses array: when the classifier or the prepared registry lets go of it (and of
  // every step sharing it), the entry goes too. Most recently set last.
  private readonly memos = new WeakMap<readonly Access[], Memo[]>();

  /** What this step decided under this scope at this position, or undefined (a miss: evaluate afresh). */
  get(
    step: OperationStep,
    scope: RequestScope,
    stepCount: number,
    statementNumber: number,
  ): Memo | undefined {
    const memos = this.memos.get(step.accesses);
    if (memos === undefined) return undefined;
    for (let i = memos.length - 1; i >= 0; i--) {
      const memo = memos[i]!;
      if (
        memo.scope === scope &&
        memo.action === step.action &&
        memo.facts === step.facts &&
        memo.stepCount === stepCount &&
        memo.statementNumber === statementNumber
      ) {
        return memo;
      }
    }
    return undefined;
  }

  set(
    step: OperationStep,
    scope: RequestScope,
    stepCount: number,
    statementNumber: number,
    evaluated: readonly EvaluatedAccess[],
    verdict?: Verdict,
  ): void {
    const { action, facts } = step;
    const memo: Memo = { action, facts, scope, stepCount, statementNumber, evaluated, verdict };
    const memos = this.memos.get(step.accesses);
    if (memos === undefined) {
      this.memos.set(step.accesses, [memo]);
      return;
    }
    // The same scope at the same position (a racing miss): replaced, not kept twice. A scope of a past minute
    // never answers again and ages out at the bound.
    for (let i = 0; i < memos.length; i++) {
      const old = memos[i]!;
      if (
        old.scope === scope &&
        old.action === action &&
        old.facts === facts &&
        old.stepCount === stepCount &&
        old.statementNumber === statementNumber
      ) {
        memos.splice(i, 1);
        break;
      }
    }
    memos.push(memo);
    if (memos.length > SCOPES_PER_STEP) memos.shift();
  }
}
