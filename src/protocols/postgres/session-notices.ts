import type { ApprovalHold } from "../../pipeline/pipeline-types.js";
import { noticeFrame } from "./errors.js";

/** The NoticeResponse a held client receives: which request, who must approve, how long it waits. */
export function heldNotice(hold: ApprovalHold): Buffer {
  const approvers =
    hold.approval.quorum === 1
      ? `one member of group "${hold.approval.group}"`
      : `${hold.approval.quorum} members of group "${hold.approval.group}"`;
  return noticeFrame(
    `Latch: statement held for approval, request ${hold.requestId}: it needs approval by ${approvers}; ` +
      `waiting up to ${Math.round(hold.timeoutMs / 1000)} s (until ${new Date(hold.expiresAt).toISOString()}). ` +
      `Approvers: latch requests approve ${hold.requestId}`,
  );
}
