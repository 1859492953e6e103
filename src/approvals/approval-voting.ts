import type { Identity } from "../identity/identity.js";
import { ApprovalError } from "./approval-errors.js";
import { type ApprovalEvents, describe } from "./approval-events.js";
import type { ApprovalExpiry } from "./approval-expiry.js";
import { decidedData, outcomeOf } from "./approval-records.js";
import { newId } from "./approval-requests.js";
import { assertMayVote, voteEffect } from "./approval-rules.js";
import type { ApprovalStore, VoteResult } from "./approval-store.js";
import type { ApprovalOutcome, ApprovalRequest, ApprovalVote } from "./approval-types.js";
import { KeyedTurns } from "./serial-work.js";

export type VoteCast = Omit<ApprovalVote, "approver" | "approverIssuer" | "at">;

/**
 * Takes approvers' votes: one at a time per request here (the next waits for the one in progress, whose effect
 * counts the votes), while across gateways the store refuses a vote computed from a request that changed
 * meanwhile. The vote is on the record before it counts.
 */
export class ApprovalVoting {
  private readonly turns = new KeyedTurns();

  constructor(
    private readonly options: {
      readonly store: ApprovalStore;
      readonly events: ApprovalEvents;
      readonly expiry: ApprovalExpiry;
      /** Reads a request, a store failure as `store_unavailable`. */
      readonly getRequest: (id: string) => Promise<ApprovalRequest | undefined>;
      /** Tells the statements held on a request its outcome. */
      readonly settle: (requestId: string, outcome: ApprovalOutcome) => void;
      readonly now: () => number;
    },
  ) {}

  vote(id: string, approver: Identity, cast: VoteCast): Promise<ApprovalRequest> {
    return this.turns.run(`request:${id}`, () => this.voteNow(id, approver, cast));
  }

  private async voteNow(id: string, approver: Identity, cast: VoteCast): Promise<ApprovalRequest> {
    const { store, events, settle } = this.options;
    let request: ApprovalRequest | undefined;
    try {
      request = await this.options.getRequest(id);
    } catch (error) {
      // A statement held on a store that is gone is refused now rather than left waiting for its timeout.
      settle(id, {
        decision: "denied",
        requestId: id,
        reason: `approval store unavailable: ${describe(error)}`,
      });
      throw error;
    }
    if (request === undefined) throw new ApprovalError("request_not_found", `no request ${id}`);
    const now = this.options.now();
    if (request.state === "pending" && now >= request.expiresAt)
      await this.options.expiry.finish(id, "expired", "no decision before the request expired");
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
    await events.recordOrRefuse(id, "approval_vote", request.sessionId, {
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
      result = await store.recordVote(id, vote, effect);
    } catch (error) {
      // The held statement must not stay in limbo on a store that is gone: refuse it now.
      settle(id, {
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
    const updated = (await this.options.getRequest(id)) ?? request;
    if (effect.state !== "pending") {
      await events.recordQuietly("approval_decided", updated.sessionId, decidedData(updated));
      if (effect.grant !== undefined)
        await events.recordQuietly("grant_created", updated.sessionId, { ...effect.grant });
    }
    events.publish({ type: "request", request: updated });
    if (effect.grant !== undefined) events.publish({ type: "grant", grant: effect.grant });
    if (effect.state !== "pending") settle(id, outcomeOf(updated));
    return updated;
  }
}
