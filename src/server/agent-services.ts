import { accessKey } from "../approvals/approval-binding.js";
import type { ApprovalService } from "../approvals/approval-service.js";
import type { ApprovalRequest } from "../approvals/approval-types.js";
import { type UpfrontJudge, upfrontStep } from "../approvals/upfront-judge.js";
import type { PolicyEngine } from "../policy/policy-engine.js";
import type { AccessStatus, ApprovalDesk, PolicyPreview } from "../protocols/agent-services.js";

/** Policy asked about one step that makes exactly the named accesses, as an up-front request is judged. */
export function createPolicyPreview(policy: () => PolicyEngine): PolicyPreview {
  return (question) => {
    const step = upfrontStep(question.accesses);
    return policy().authorize({
      identity: question.identity,
      connection: question.connection,
      connectionLabels: question.connectionLabels,
      steps: [{ ...step, facts: { ...step.facts, readOnly: question.readOnly } }],
      clientAddress: question.clientAddress,
      now: new Date(),
    }).decision;
  };
}

/** The approval service as agents reach it through a protocol: their own requests only. */
export function createApprovalDesk(
  service: ApprovalService,
  judgeUpfront: UpfrontJudge,
  consoleUrl: string | undefined,
): ApprovalDesk {
  return {
    ...(consoleUrl === undefined ? {} : { consoleUrl }),
    async status(requestId, identity) {
      const found = await service.getRequest(requestId);
      if (found === undefined) return undefined;
      if (found.requester !== identity.subject || found.requesterIssuer !== identity.issuer) return undefined;
      return statusOf(found);
    },
    async requestAccess(input) {
      const verdict = judgeUpfront(input.identity, input.connection, input.accesses, input.clientAddress);
      if (verdict === undefined) throw new Error(`no connection named "${input.connection}"`);
      const created = await service.createUpfrontRequest({
        requester: input.identity,
        connection: input.connection,
        accesses: input.accesses.map(accessKey),
        reason: input.reason,
        verdict,
        ...(input.forMs === undefined ? {} : { forMs: input.forMs }),
      });
      return statusOf(created);
    },
  };
}

function statusOf(request: ApprovalRequest): AccessStatus {
  return {
    requestId: request.id,
    state: request.state,
    connection: request.connection,
    group: request.group,
    quorum: request.quorum,
    votes: request.votes.length,
    reason: request.reason,
    expiresAt: request.expiresAt,
    grantId: request.grantId,
    decisionReason: request.decisionReason,
  };
}
