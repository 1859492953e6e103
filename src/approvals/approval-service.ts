import type { Identity } from "../identity/identity.js";
import type { Operation, Verdict } from "../operation/operation.js";
import { operationAccessKeys, operationTexts, statementBinding } from "./approval-binding.js";
import { ApprovalError } from "./approval-errors.js";
import { ApprovalEvents, type ApprovalLog, describe, readStore } from "./approval-events.js";
import { ApprovalExpiry } from "./approval-expiry.js";
import { deferred, outcomeOf } from "./approval-records.js";
import { findRelease, type Release } from "./approval-release.js";
import { ApprovalRequests, type UpfrontRequestInput } from "./approval-requests.js";
import { assertGrantWindow } from "./approval-rules.js";
import type { ApprovalStore, GrantFilter, RequestFilter } from "./approval-store.js";
import type {
  ApprovalAuditEvent,
  ApprovalGate,
  ApprovalInput,
  ApprovalOutcome,
  ApprovalRequest,
  ApprovalUpdate,
  Grant,
} from "./approval-types.js";
import { ApprovalVoting } from "./approval-voting.js";
import { ApprovalWaiters } from "./approval-waiters.js";
import { BackgroundWork, KeyedTurns } from "./serial-work.js";

export interface ApprovalServiceOptions {
  readonly store: ApprovalStore;
  /**
   * Several gateways share the store: a pending held request may be another live gateway's, so none is
   * abandoned at start (those of a gateway that died are closed by the expiry sweep).
   */
  readonly sharedStore?: boolean;
  /**
   * Records an approval event through the gateway's one ordered writer (the pipeline's), so the chain reads in
   * the order things happened. Resolves once durable; a rejection refuses the change where it can still be
   * refused (fail closed).
   */
  readonly audit: (event: ApprovalAuditEvent) => Promise<void>;
  /** Longest grant an approver may give (approvals.max_grant). */
  readonly maxGrantMs: number;
  /** How long an upfront request stays pending (approvals.timeout). */
  readonly requestTimeoutMs: number;
  /** How often pending requests past their expiry are closed. Default 1000 ms. */
  readonly sweepIntervalMs?: number;
  readonly now?: () => number;
  readonly log?: ApprovalLog;
}

/**
 * Just-in-time approval: creates requests for operations policy marks "approval", holds them until approvers
 * decide, turns approvals into grants, and releases deferred or granted operations.
 *
 * Every store call and every audit record is awaited; the record of a change is written before the change
 * (a request before it can be voted on, a vote before it counts, a revocation before it applies), so a change
 * that cannot be recorded is not made. Votes on one request are taken one at a time here; across gateways the
 * store refuses a vote computed from a request that changed meanwhile.
 *
 * Restart rule (`open`): a pending `hold` request found at startup becomes `abandoned` (the client connection
 * that held it died with the old process, so nothing could run it); pending `defer` and `upfront` requests stay
 * pending until they are decided or expire, because the agent re-runs or reconnects on its own.
 */
export class ApprovalService implements ApprovalGate {
  private readonly waiters: ApprovalWaiters;
  private readonly events: ApprovalEvents;
  private readonly requests: ApprovalRequests;
  private readonly expiry: ApprovalExpiry;
  private readonly voting: ApprovalVoting;
  /** One revocation at a time per grant: the next waits. */
  private readonly turns = new KeyedTurns();
  /** Closings started by timers and aborts (not awaited by anyone): close() waits for them. */
  private readonly background = new BackgroundWork();
  private readonly now: () => number;

  /** Opens the service over its store: closes held requests left by a previous run, then starts the sweeper. */
  static async open(options: ApprovalServiceOptions): Promise<ApprovalService> {
    const service = new ApprovalService(options);
    if (options.sharedStore !== true) await service.expiry.recoverHeldRequests();
    service.expiry.startSweeper(options.sweepIntervalMs ?? 1000);
    return service;
  }

  private constructor(private readonly options: ApprovalServiceOptions) {
    const { store, log } = options;
    const now = options.now ?? Date.now;
    this.now = now;
    const settle = (id: string, outcome: ApprovalOutcome) => this.waiters.settle(id, outcome);
    this.events = new ApprovalEvents({
      audit: options.audit,
      refuse: settle,
      ...(log === undefined ? {} : { log }),
    });
    this.expiry = new ApprovalExpiry({
      store,
      events: this.events,
      settle,
      background: this.background,
      now,
      ...(log === undefined ? {} : { log }),
    });
    this.requests = new ApprovalRequests({ store, events: this.events, now });
    this.voting = new ApprovalVoting({
      store,
      events: this.events,
      expiry: this.expiry,
      getRequest: (id) => this.getRequest(id),
      settle,
      now,
    });
    this.waiters = new ApprovalWaiters({
      now,
      abandon: (request) =>
        this.background.add(
          this.expiry.finish(request.id, "abandoned", "the client disconnected while the statement was held"),
        ),
      expire: (request) =>
        this.background.add(
          this.expiry.finish(
            request.id,
            "expired",
            `no decision within ${Math.round((request.expiresAt - request.createdAt) / 1000)} s`,
          ),
        ),
    });
  }

  async requestApproval(input: ApprovalInput): Promise<ApprovalOutcome> {
    const { operation, verdict } = input;
    if (verdict.decision !== "approval" || verdict.approval === undefined) {
      return { decision: "denied", requestId: "", reason: "the verdict carries no approval requirement" };
    }
    if (input.signal.aborted) return { decision: "abandoned", requestId: "", reason: "the client went away" };
    const binding = statementBinding(operation);
    let request: ApprovalRequest;
    try {
      const existing =
        input.mode === "defer" ? await this.options.store.findPendingByBinding(binding) : undefined;
      if (existing !== undefined && existing.mode === "defer") return deferred(existing);
      const base = this.requests.base(operation.identity, operation.connection, verdict, input.timeoutMs);
      if (input.beforeRequest !== undefined) {
        try {
          await input.beforeRequest({ id: base.id, expiresAt: base.expiresAt });
        } catch (error) {
          return {
            decision: "denied",
            requestId: "",
            reason: `the operation could not be recorded: ${describe(error)}`,
          };
        }
        if (input.signal.aborted)
          return { decision: "abandoned", requestId: "", reason: "the client went away" };
      }
      request = await this.requests.create({
        ...base,
        mode: input.mode,
        binding,
        sessionId: operation.sessionId,
        operationId: operation.id,
        statements: operationTexts(operation),
        parameters: operation.parameters ?? null,
        accesses: operationAccessKeys(operation),
        reason: verdict.reason,
        preview: input.preview ?? null,
      });
    } catch (error) {
      return {
        decision: "denied",
        requestId: "",
        reason: `approval could not be requested: ${describe(error)}`,
      };
    }
    if (input.mode === "defer") return deferred(request);
    input.onRequested?.({ id: request.id, expiresAt: request.expiresAt });
    const held = this.waiters.wait(request, input.signal);
    // A decision taken between the insert and the waiter's registration settled nobody: look once more.
    void this.getRequest(request.id).then(
      (current) => {
        if (current !== undefined && current.state !== "pending")
          this.waiters.settle(current.id, outcomeOf(current));
      },
      () => undefined,
    );
    return held;
  }

  checkGrant(operation: Operation, verdict: Verdict): Promise<Release | undefined> {
    return findRelease(this.options.store, operation, verdict, this.now(), this.options.log);
  }

  /** An agent asks before it needs access; approval turns into a grant. */
  createUpfrontRequest(input: UpfrontRequestInput): Promise<ApprovalRequest> {
    return this.requests.createUpfront(input, this.options.maxGrantMs, this.options.requestTimeoutMs);
  }

  async approve(
    id: string,
    approver: Identity,
    input: { reason?: string; forMs?: number },
  ): Promise<ApprovalRequest> {
    assertGrantWindow(input.forMs, this.options.maxGrantMs);
    return this.voting.vote(id, approver, {
      vote: "approve",
      reason: input.reason?.trim() ?? "",
      ...(input.forMs === undefined ? {} : { grantForMs: input.forMs }),
    });
  }

  async deny(id: string, approver: Identity, input: { reason: string }): Promise<ApprovalRequest> {
    if (input.reason.trim() === "") throw new ApprovalError("invalid_input", "a denial needs a reason");
    return this.voting.vote(id, approver, { vote: "deny", reason: input.reason.trim() });
  }

  getRequest(id: string): Promise<ApprovalRequest | undefined> {
    return readStore(() => this.options.store.getRequest(id));
  }

  listRequests(filter?: RequestFilter): Promise<ApprovalRequest[]> {
    return readStore(() => this.options.store.listRequests(filter));
  }

  getGrant(id: string): Promise<Grant | undefined> {
    return readStore(() => this.options.store.getGrant(id));
  }

  listGrants(filter?: GrantFilter): Promise<Grant[]> {
    return readStore(() => this.options.store.listGrants(filter));
  }

  /** The revocation is on the record before it applies; a second revocation of the same grant waits and is refused. */
  revokeGrant(id: string, by: Identity, reason: string): Promise<Grant> {
    return this.turns.run(`grant:${id}`, () => this.revokeNow(id, by, reason));
  }

  private async revokeNow(id: string, by: Identity, reason: string): Promise<Grant> {
    const grant = await this.getGrant(id);
    if (grant === undefined) throw new ApprovalError("grant_not_found", `no grant ${id}`);
    if (grant.revokedAt !== null)
      throw new ApprovalError("grant_already_revoked", `grant ${id} was already revoked`);
    const at = this.now();
    const data = { grantId: id, requestId: grant.requestId, revokedBy: by.subject, reason };
    await this.events.recordOrRefuse(null, "grant_revoked", null, data);
    const revoked = await readStore(() => this.options.store.revokeGrant(id, by.subject, reason, at));
    if (!revoked) throw new ApprovalError("grant_already_revoked", `grant ${id} was already revoked`);
    const updated = (await this.getGrant(id)) ?? grant;
    this.events.publish({ type: "grant", grant: updated });
    return updated;
  }

  /** Request and grant changes, for SSE and webhooks. Returns the unsubscribe function. */
  subscribe(listener: (update: ApprovalUpdate) => void): () => void {
    return this.events.subscribe(listener);
  }

  /**
   * A change another gateway on the same store made (cluster events carry only the id): re-read it, tell this
   * gateway's subscribers (console, SSE, revocation), and release or refuse the operations held here on it.
   */
  async applyRemoteChange(change: {
    readonly type: "request" | "grant";
    readonly id: string;
  }): Promise<void> {
    if (change.type === "grant") {
      const grant = await this.options.store.getGrant(change.id);
      if (grant !== undefined) this.events.publish({ type: "grant", grant, remote: true });
      return;
    }
    const request = await this.options.store.getRequest(change.id);
    if (request === undefined) return;
    this.events.publish({ type: "request", request, remote: true });
    if (request.state !== "pending") this.waiters.settle(request.id, outcomeOf(request));
  }

  /** Closes pending requests past their expiry; runs on a timer (one sweep at a time), callable directly. */
  expireDue(): Promise<void> {
    return this.expiry.expireDue();
  }

  /**
   * Stops the sweeper and waits for closings already under way (a held request abandoned as its session
   * ended is on the record before the store is closed). The store belongs to whoever opened it.
   */
  async close(): Promise<void> {
    this.expiry.stopSweeper();
    await this.background.settled();
  }
}
