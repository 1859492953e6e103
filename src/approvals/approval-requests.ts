import { randomBytes } from "node:crypto";
import type { Identity } from "../identity/identity.js";
import type { Verdict } from "../operation/operation.js";
import { ApprovalError } from "./approval-errors.js";
import { type ApprovalEvents, describe } from "./approval-events.js";
import { decidedData, requestedData } from "./approval-records.js";
import { assertGrantWindow } from "./approval-rules.js";
import type { ApprovalStore, NewApprovalRequest } from "./approval-store.js";
import type { ApprovalRequest } from "./approval-types.js";

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

/** A request as its creator describes it; the state fields every new request starts with are filled in here. */
export type RequestDraft = Omit<
  NewApprovalRequest,
  "state" | "decidedAt" | "decisionReason" | "consumedAt" | "grantId" | "requestedForMs"
> & { requestedForMs?: number | null };

/** Creates approval requests: the same envelope for held, deferred and upfront ones, recorded before stored. */
export class ApprovalRequests {
  constructor(
    private readonly options: {
      readonly store: ApprovalStore;
      readonly events: ApprovalEvents;
      readonly now: () => number;
    },
  ) {}

  /** Who asks, on which connection, what policy requires, and when the request expires. */
  base(identity: Identity, connection: string, verdict: Verdict, timeoutMs: number) {
    const createdAt = this.options.now();
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

  /** An agent asks before it needs access: checked against policy and the grant limit, then created. */
  async createUpfront(
    input: UpfrontRequestInput,
    maxGrantMs: number,
    requestTimeoutMs: number,
  ): Promise<ApprovalRequest> {
    if (input.reason.trim() === "")
      throw new ApprovalError("invalid_input", "say why you need access (reason)");
    if (input.accesses.length === 0) throw new ApprovalError("invalid_input", "name at least one action");
    assertGrantWindow(input.forMs, maxGrantMs);
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
    return this.create({
      ...this.base(input.requester, input.connection, input.verdict, requestTimeoutMs),
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

  /**
   * The request goes on the record, then into the store: nobody can vote on a request the chain does not
   * hold yet. If the store then refuses it, the record is closed with an `approval_decided` (abandoned).
   */
  async create(request: RequestDraft): Promise<ApprovalRequest> {
    const { store, events } = this.options;
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
      await events.record("approval_requested", full.sessionId, requestedData(created));
    } catch (error) {
      throw new ApprovalError("store_unavailable", "the audit log could not record the request", {
        cause: error,
      });
    }
    try {
      await store.insertRequest(full);
    } catch (error) {
      const reason = `the approval store could not keep the request: ${describe(error)}`;
      await events.recordQuietly(
        "approval_decided",
        full.sessionId,
        decidedData({ ...created, state: "abandoned", decisionReason: reason }),
      );
      throw new ApprovalError("store_unavailable", reason, { cause: error });
    }
    events.publish({ type: "request", request: created });
    return created;
  }
}

export function newId(prefix: "req" | "grt"): string {
  return `${prefix}_${randomBytes(9).toString("base64url")}`;
}
