import type { AdmitOptions, ApprovalHold } from "../../pipeline/pipeline-types.js";
import type { CallExtras } from "./tool-context.js";

/** The progress line a held call sends while it waits for its approvers. */
export function heldProgressText(hold: ApprovalHold): string {
  return `held for approval by group "${hold.approval.group}" (request ${hold.requestId}); waiting up to ${Math.round(hold.timeoutMs / 1000)}s`;
}

/**
 * How a tool call waits for an approval: a client that sent a progress token is held and told so; one without
 * cannot wait, so the call is deferred and answered with a pending result it can follow or retry.
 */
export function waitingOptions(extras: CallExtras): Pick<AdmitOptions, "mode" | "onHeld"> {
  const progress = extras.progress;
  if (progress === undefined) return { mode: "defer" };
  return { mode: "hold", onHeld: (hold) => void progress(heldProgressText(hold)) };
}
