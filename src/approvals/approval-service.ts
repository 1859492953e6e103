import { randomBytes } from "node:crypto";
import type { Identity } from "../identity/identity.js";
import type { Operation, Verdict } from "../operation/operation.js";
import type { StatementPreview } from "../operation/statement-preview.js";
import { grantCovers, operationAccessKeys, operationTexts, statementBinding } from "./approval-binding.js";
import { ApprovalError } from "./approval-errors.js";
import { decidedData, deferred, outcomeOf, requestedData } from "./approval-records.js";
import { assertGrantWindow, assertMayVote, voteEffect } from "./approval-rules.js";
import type {
  ApprovalStore,
  GrantFilter,
  NewApprovalRequest,
  RequestFilter,
  VoteResult,
} from "./approval-store.js";
import type {
  ApprovalAuditEvent,
  ApprovalGate,
  ApprovalInput,
  ApprovalOutcome,
  ApprovalRequest,
  ApprovalUpdate,
  ApprovalVote,
  Grant,
} from "./approval-types.js";
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
  readonly log?: {
    error(object: unknown, message: string): void;
    warn(object: unknown, message: string): void;
  };
}

export interface UpfrontRequestInput {
  readonly requester: Identity;
  readonly connection: string;
  /** `action resource` keys (approval-binding.ts accessKey). */
  readonly accesses: readonly string[];
  readonly reason: string;
  readonly forMs?: number;
  /** What policy says about these accesses for this requester. */
  readonly verdict: Verdict;
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
  private readonly listeners = new Set<(update: ApprovalUpdate) => void>();
  /** One change at a time per request or grant: the next change of it waits. */
  private readonly turns = new KeyedTurns();
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  private sweepFailing = false;
  private closed = false;
  /** Closings started by timers and aborts (not awaited by anyone): close() waits for them. */
  private readonly background = new BackgroundWork();
  private readonly now: () => number;

  /** Opens the service over its store: closes held requests left by a previous run, then starts the sweeper. */
  static async open(options: ApprovalServiceOptions): Promise<ApprovalService> {
    const service = new ApprovalService(options);
    if (options.sharedStore !== true) await service.recoverHeldRequests();
    service.startSweeper();
    return service;
  }

  private constructor(private readonly options: ApprovalServiceOptions) {
    this.now = options.now ?? Date.now;
    this.waiters = new ApprovalWaiters({
      now: this.now,
      abandon: (request) =>
        this.background.add(
          this.finish(request.id, "abandoned", "the client disconnected while the statement was held"),
        ),
      expire: (request) =>
        this.background.add(
          this.finish(
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
      const base = this.baseRequest(operation.identity, operation.connection, verdict, input.timeoutMs);
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
      request = await this.createRequest({
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

  async checkGrant(
    operation: Operation,
    verdict: Verdict,
  ): Promise<
    { requestId: string; grantId?: string; grantExpiresAt?: number; preview?: StatementPreview } | undefined
  > {
    const required = verdict.approval;
    if (verdict.decision !== "approval" || required === undefined) return undefined;
    const satisfies = (found: { group: string; quorum: number }) =>
      found.group === required.group && found.quorum >= required.quorum;
    const now = this.now();
    try {
      const store = this.options.store;
      for (const request of await store.findReleasable(statementBinding(operation), now)) {
        if (!satisfies(request) || !(await store.consumeRequest(request.id, now))) continue;
        return { requestId: request.id, ...(request.preview === null ? {} : { preview: request.preview }) };
      }
      const accesses = operationAccessKeys(operation);
      for (const grant of await store.liveGrants(operation.identity.subject, operation.connection, now)) {
        if (!satisfies(grant) || !grantCovers(grant.accesses, accesses)) continue;
        if (!(await store.useGrant(grant.id, now))) continue;
        return { requestId: grant.requestId, grantId: grant.id, grantExpiresAt: grant.expiresAt };
      }
    } catch (error) {
      // Fail closed: the operation then goes through requestApproval, which refuses if the store is down.
      this.options.log?.error({ err: error }, "approval grant check failed; treating as no grant");
    }
    return undefined;
  }

  /** An agent asks before it needs access; approval turns into a grant. */
  async createUpfrontRequest(input: UpfrontRequestInput): Promise<ApprovalRequest> {
    if (input.reason.trim() === "")
      throw new ApprovalError("invalid_input", "say why you need access (reason)");
    if (input.accesses.length === 0) throw new ApprovalError("invalid_input", "name at least one action");
    assertGrantWindow(input.forMs, this.options.maxGrantMs);
    if (input.verdict.decision === "allow") {
      throw new ApprovalError("approval_not_needed", `no approval needed: ${input.verdict.reason}`);
    }
    if (input.verdict.decision === "deny" || input.verdict.approval === undefined) {
      throw new ApprovalError(
        "not_allowed",
        `policy does not allow this even with approval: ${input.verdict.reason}`,
      );
    }
    const accesses = [...new Set(input.accesses)].sort();
    return this.createRequest({
      ...this.baseRequest(input.requester, input.connection, input.verdict, this.options.requestTimeoutMs),
      mode: "upfront",
      binding: "",
      sessionId: null,
      operationId: null,
      statements: [],
      parameters: null,
      accesses,
      reason: input.reason.trim(),
      requestedForMs: input.forMs ?? null,
      preview: null,
    });
  }

  async approve(
    id: string,
    approver: Identity,
    input: { reason?: string; forMs?: number },
  ): Promise<ApprovalRequest> {
    assertGrantWindow(input.forMs, this.options.maxGrantMs);
    return this.vote(id, approver, {
      vote: "approve",
      reason: input.reason?.trim() ?? "",
      ...(input.forMs === undefined ? {} : { grantForMs: input.forMs }),
    });
  }

  async deny(id: string, approver: Identity, input: { reason: string }): Promise<ApprovalRequest> {
    if (input.reason.trim() === "") throw new ApprovalError("invalid_input", "a denial needs a reason");
    return this.vote(id, approver, { vote: "deny", reason: input.reason.trim() });
  }

  getRequest(id: string): Promise<ApprovalRequest | undefined> {
    return this.read(() => this.options.store.getRequest(id));
  }

  listRequests(filter?: RequestFilter): Promise<ApprovalRequest[]> {
    return this.read(() => this.options.store.listRequests(filter));
  }

  getGrant(id: string): Promise<Grant | undefined> {
    return this.read(() => this.options.store.getGrant(id));
  }

  listGrants(filter?: GrantFilter): Promise<Grant[]> {
    return this.read(() => this.options.store.listGrants(filter));
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
    await this.auditOrRefuse(null, "grant_revoked", null, data);
    const revoked = await this.read(() => this.options.store.revokeGrant(id, by.subject, reason, at));
    if (!revoked) throw new ApprovalError("grant_already_revoked", `grant ${id} was already revoked`);
    const updated = (await this.getGrant(id)) ?? grant;
    this.publish({ type: "grant", grant: updated });
    return updated;
  }

  /** Request and grant changes, for SSE and webhooks. Returns the unsubscribe function. */
  subscribe(listener: (update: ApprovalUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
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
      if (grant !== undefined) this.publish({ type: "grant", grant, remote: true });
      return;
    }
    const request = await this.options.store.getRequest(change.id);
    if (request === undefined) return;
    this.publish({ type: "request", request, remote: true });
    if (request.state !== "pending") this.waiters.settle(request.id, outcomeOf(request));
  }

  /** Closes pending requests past their expiry; runs on a timer (one sweep at a time), callable directly. */
  async expireDue(): Promise<void> {
    let pending: ApprovalRequest[];
    try {
      pending = await this.options.store.listRequests({ state: "pending", limit: 1000 });
    } catch (error) {
      // Once per outage, not once a second: /healthz and the metrics carry the state meanwhile.
      if (!this.sweepFailing)
        this.options.log?.error({ err: error }, "approval sweep could not read pending requests");
      this.sweepFailing = true;
      return;
    }
    if (this.sweepFailing) this.options.log?.warn({}, "approval sweep reads pending requests again");
    this.sweepFailing = false;
    const now = this.now();
    for (const request of pending)
      if (request.expiresAt <= now)
        await this.finish(request.id, "expired", "no decision before the request expired");
  }

  /**
   * Stops the sweeper and waits for closings already under way (a held request abandoned as its session
   * ended is on the record before the store is closed). The store belongs to whoever opened it.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    await this.background.settled();
  }

  private startSweeper(): void {
    if (this.closed) return;
    this.sweeper = setInterval(() => {
      if (this.sweeping) return;
      this.sweeping = true;
      this.background.add(
        this.expireDue().finally(() => {
          this.sweeping = false;
        }),
      );
    }, this.options.sweepIntervalMs ?? 1000);
    this.sweeper.unref();
  }

  /** One vote at a time per request: the next waits for the one in progress (its effect counts votes). */
  private vote(
    id: string,
    approver: Identity,
    cast: Omit<ApprovalVote, "approver" | "approverIssuer" | "at">,
  ): Promise<ApprovalRequest> {
    return this.turns.run(`request:${id}`, () => this.voteNow(id, approver, cast));
  }

  private async voteNow(
    id: string,
    approver: Identity,
    cast: Omit<ApprovalVote, "approver" | "approverIssuer" | "at">,
  ): Promise<ApprovalRequest> {
    let request: ApprovalRequest | undefined;
    try {
      request = await this.getRequest(id);
    } catch (error) {
      // A statement held on a store that is gone is refused now rather than left waiting for its timeout.
      this.waiters.settle(id, {
        decision: "denied",
        requestId: id,
        reason: `approval store unavailable: ${describe(error)}`,
      });
      throw error;
    }
    if (request === undefined) throw new ApprovalError("request_not_found", `no request ${id}`);
    const now = this.now();
    if (request.state === "pending" && now >= request.expiresAt)
      await this.finish(id, "expired", "no decision before the request expired");
    assertMayVote(request, approver, now);
    const vote: ApprovalVote = {
      ...cast,
      approver: approver.subject,
      approverIssuer: approver.issuer,
      at: now,
    };
    const effect = voteEffect(request, vote, newId("grt"));
    // The vote is on the record before it takes effect: a decision that cannot be audited is not taken, and a
    // statement held on a gateway whose record is gone is refused rather than left waiting.
    await this.auditOrRefuse(id, "approval_vote", request.sessionId, {
      requestId: id,
      approver: vote.approver,
      approverIssuer: vote.approverIssuer,
      vote: vote.vote,
      reason: vote.reason,
      ...(vote.grantForMs === undefined ? {} : { grantForMs: vote.grantForMs }),
      resultingState: effect.state,
    });
    let result: VoteResult;
    try {
      result = await this.options.store.recordVote(id, vote, effect);
    } catch (error) {
      // The held statement must not stay in limbo on a store that is gone: refuse it now.
      this.waiters.settle(id, {
        decision: "denied",
        requestId: id,
        reason: `approval store unavailable: ${describe(error)}`,
      });
      throw new ApprovalError(
        "store_unavailable",
        "the approval store could not record the vote; nothing changed",
        { cause: error },
      );
    }
    if (result === "already_voted")
      throw new ApprovalError("already_voted", `${approver.subject} already voted on request ${id}`);
    if (result === "not_pending")
      throw new ApprovalError("request_not_pending", `request ${id} was decided meanwhile`);
    if (result === "changed")
      throw new ApprovalError(
        "request_not_pending",
        `request ${id} got another vote meanwhile (on another gateway); nothing changed, look at it again and vote again`,
      );
    const updated = (await this.read(() => this.options.store.getRequest(id))) ?? request;
    if (effect.state !== "pending") {
      await this.auditQuietly("approval_decided", updated.sessionId, decidedData(updated));
      if (effect.grant !== undefined)
        await this.auditQuietly("grant_created", updated.sessionId, { ...effect.grant });
    }
    this.publish({ type: "request", request: updated });
    if (effect.grant !== undefined) this.publish({ type: "grant", grant: effect.grant });
    if (effect.state !== "pending") this.waiters.settle(id, outcomeOf(updated));
    return updated;
  }

  /** pending -> expired/abandoned; settles waiters with whatever the request's final state is. */
  private async finish(id: string, state: "expired" | "abandoned", reason: string): Promise<void> {
    let changed: boolean;
    let request: ApprovalRequest | undefined;
    try {
      changed = await this.options.store.finishRequest(id, state, this.now(), reason);
      request = await this.options.store.getRequest(id);
    } catch (error) {
      this.options.log?.error({ err: error, requestId: id }, "approval store failed while closing a request");
      this.waiters.settle(id, {
        decision: state === "abandoned" ? "abandoned" : "denied",
        requestId: id,
        reason: `approval store unavailable: ${describe(error)}`,
      });
      return;
    }
    if (request === undefined) return;
    if (changed) {
      await this.auditQuietly("approval_decided", request.sessionId, decidedData(request));
      this.publish({ type: "request", request });
    }
    // A client that left gets "abandoned" even if a decision raced it: nobody is there to run the statement.
    this.waiters.settle(
      id,
      state === "abandoned" ? { decision: "abandoned", requestId: id, reason } : outcomeOf(request),
    );
  }

  /**
   * The request goes on the record, then into the store: nobody can vote on a request the chain does not
   * hold yet. If the store then refuses it, the record is closed with an `approval_decided` (abandoned).
   */
  private async createRequest(
    request: Omit<
      NewApprovalRequest,
      "state" | "decidedAt" | "decisionReason" | "consumedAt" | "grantId" | "requestedForMs"
    > & { requestedForMs?: number | null },
  ): Promise<ApprovalRequest> {
    const full: NewApprovalRequest = {
      ...request,
      requestedForMs: request.requestedForMs ?? null,
      state: "pending",
      decidedAt: null,
      decisionReason: null,
      consumedAt: null,
      grantId: null,
    };
    const created: ApprovalRequest = { ...full, votes: [] };
    try {
      await this.options.audit({
        kind: "approval_requested",
        sessionId: full.sessionId,
        data: requestedData(created),
      });
    } catch (error) {
      throw new ApprovalError("store_unavailable", "the audit log could not record the request", {
        cause: error,
      });
    }
    try {
      await this.options.store.insertRequest(full);
    } catch (error) {
      const reason = `the approval store could not keep the request: ${describe(error)}`;
      await this.auditQuietly(
        "approval_decided",
        full.sessionId,
        decidedData({ ...created, state: "abandoned", decisionReason: reason }),
      );
      throw new ApprovalError("store_unavailable", reason, { cause: error });
    }
    this.publish({ type: "request", request: created });
    return created;
  }

  private baseRequest(identity: Identity, connection: string, verdict: Verdict, timeoutMs: number) {
    const createdAt = this.now();
    return {
      id: newId("req"),
      connection,
      requester: identity.subject,
      requesterIssuer: identity.issuer,
      requesterGroups: [...identity.groups],
      ...(identity.actors === undefined || identity.actors.length === 0
        ? {}
        : { actors: [...identity.actors] }),
      group: verdict.approval?.group ?? "",
      quorum: verdict.approval?.quorum ?? 1,
      rules: [...verdict.rules],
      createdAt,
      expiresAt: createdAt + timeoutMs,
    };
  }

  private async recoverHeldRequests(): Promise<void> {
    for (const request of await this.options.store.listRequests({ state: "pending", limit: 10_000 })) {
      if (request.mode === "hold")
        await this.finish(request.id, "abandoned", "the gateway restarted while the statement was held");
    }
  }

  private publish(update: ApprovalUpdate): void {
    for (const listener of this.listeners) {
      try {
        listener(update);
      } catch (error) {
        this.options.log?.warn({ err: error }, "approval update listener threw");
      }
    }
  }

  private audit(
    kind: ApprovalAuditEvent["kind"],
    sessionId: string | null,
    data: Record<string, unknown>,
  ): Promise<void> {
    return this.options.audit({ kind, sessionId, data });
  }

  private async auditOrRefuse(
    requestId: string | null,
    kind: ApprovalAuditEvent["kind"],
    sessionId: string | null,
    data: Record<string, unknown>,
  ): Promise<void> {
    try {
      await this.audit(kind, sessionId, data);
    } catch (error) {
      if (requestId !== null) {
        this.waiters.settle(requestId, {
          decision: "denied",
          requestId,
          reason: `audit log unavailable: ${describe(error)}`,
        });
      }
      throw new ApprovalError("store_unavailable", "the audit log is unavailable; nothing changed", {
        cause: error,
      });
    }
  }

  /** For events recording something already final in the store: a failure is logged, not undone. */
  private async auditQuietly(
    kind: ApprovalAuditEvent["kind"],
    sessionId: string | null,
    data: Record<string, unknown>,
  ): Promise<void> {
    try {
      await this.audit(kind, sessionId, data);
    } catch (error) {
      this.options.log?.error({ err: error, kind }, "approval audit event could not be written");
    }
  }

  /** A store failure becomes `store_unavailable` (503), never a raw database error. */
  private async read<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw new ApprovalError("store_unavailable", `the approval store is unavailable: ${describe(error)}`, {
        cause: error,
      });
    }
  }
}

function newId(prefix: "req" | "grt"): string {
  return `${prefix}_${randomBytes(9).toString("base64url")}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
