import type { Identity } from "../identity/identity.js";
import type { OperationStep, Verdict } from "../operation/operation.js";
import type { PolicyEngine } from "../policy/policy-engine.js";

const REMEMBERED = 32;

/**
 * What an open session has been doing, so a policy reload can ask whether it would still be allowed to. A
 * session whose recent statements the new policy would deny is ended: tightening policy takes effect on live
 * connections, not only on new ones.
 */
export class SessionRecheck {
  /** By text, oldest first (Map order): a repeated text moves to the end. One hash lookup per statement. */
  private readonly recent = new Map<string, OperationStep>();
  /** The step last remembered (the entry at the end of `recent`). */
  private newest: OperationStep | undefined;

  constructor(
    private readonly subject: {
      readonly identity: Identity;
      readonly connection: string;
      readonly connectionLabels: Readonly<Record<string, string>>;
      readonly clientAddress: string;
    },
  ) {}

  /** Remembers statements that were allowed and forwarded (the newest REMEMBERED distinct texts). */
  remember(statements: readonly OperationStep[]): void {
    const recent = this.recent;
    for (const statement of statements) {
      // Already the newest entry (a repeated prepared statement): re-inserting it would change nothing. The
      // newest entry is never the one evicted, so it is still there.
      if (statement === this.newest) continue;
      this.newest = statement;
      recent.delete(statement.text);
      recent.set(statement.text, statement);
      if (recent.size > REMEMBERED) recent.delete(recent.keys().next().value!);
    }
  }

  /** The new policy's verdict on the remembered statements, when it denies any of them. */
  deniedUnder(policy: PolicyEngine, now = new Date()): Verdict | undefined {
    for (const statement of this.recent.values()) {
      const verdict = policy.authorize({ ...this.subject, steps: [statement], now });
      if (verdict.decision === "deny") return verdict;
    }
    return undefined;
  }
}
