import type { ApprovalGate, ApprovalInput, ApprovalOutcome } from "../../src/approvals/approval-types.js";
import type { Operation, Verdict } from "../../src/operation/operation.js";
import type { StatementPreview } from "../../src/operation/statement-preview.js";

type Grant = { requestId: string; grantId?: string; grantExpiresAt?: number; preview?: StatementPreview };

/**
 * An ApprovalGate that behaves like the real service in the parts the pipeline relies on: a new request first
 * goes through `beforeRequest` (a rejection refuses it with no request id); then, in hold mode, it waits until
 * the test `decide()`s it or the signal aborts (abandoned), and in defer mode it comes back "deferred" at once.
 * `nextOutcome` answers at once without a new request (a pending defer request found again). `grant` is what
 * checkGrant finds; `failRequests` makes requestApproval throw.
 */
export class FakeApprovalGate implements ApprovalGate {
  grant: Grant | undefined;
  nextOutcome: ApprovalOutcome | undefined;
  failRequests: Error | undefined;
  readonly inputs: ApprovalInput[] = [];
  readonly grantChecks: Operation[] = [];
  private waiting: ((outcome: ApprovalOutcome) => void) | undefined;
  private requests = 0;

  constructor(private readonly expiresAt = Date.UTC(2026, 0, 6, 10, 35)) {}

  async checkGrant(operation: Operation, _verdict: Verdict): Promise<Grant | undefined> {
    this.grantChecks.push(operation);
    return this.grant;
  }

  async requestApproval(input: ApprovalInput): Promise<ApprovalOutcome> {
    this.inputs.push(input);
    if (this.failRequests !== undefined) throw this.failRequests;
    if (this.nextOutcome !== undefined) return this.nextOutcome;
    if (input.signal.aborted) return { decision: "abandoned", requestId: "", reason: "the client went away" };
    this.requests += 1;
    const id = `req-${this.requests}`;
    try {
      await input.beforeRequest?.({ id, expiresAt: this.expiresAt });
    } catch {
      return { decision: "denied", requestId: "", reason: "the operation could not be recorded" };
    }
    if (input.signal.aborted) return { decision: "abandoned", requestId: "", reason: "the client went away" };
    if (input.mode === "defer")
      return { decision: "deferred", requestId: id, reason: "waiting for approval" };
    input.onRequested?.({ id, expiresAt: this.expiresAt });
    return new Promise((resolve) => {
      const onAbort = () =>
        settle({ decision: "abandoned", requestId: id, reason: "the client disconnected" });
      const settle = (outcome: ApprovalOutcome) => {
        input.signal.removeEventListener("abort", onAbort);
        this.waiting = undefined;
        resolve(outcome);
      };
      input.signal.addEventListener("abort", onAbort, { once: true });
      this.waiting = settle;
    });
  }

  /** True while a request waits for a decision. */
  get holding(): boolean {
    return this.waiting !== undefined;
  }

  /** Settles the waiting request with `outcome` (the gate's requests are named req-1, req-2, ...). */
  decide(outcome: ApprovalOutcome): void {
    if (this.waiting === undefined) throw new Error("no request is waiting");
    this.waiting(outcome);
  }
}
