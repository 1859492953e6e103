import type {
  CallToolResult,
  ElicitRequestURLParams,
  ElicitResult,
} from "@modelcontextprotocol/sdk/types.js";
import { LatchError } from "../../errors.js";
import type { LiveSession } from "../../session/live-session.js";
import type { ApprovalDesk } from "../agent-services.js";
import { toolError } from "./tool-results.js";

const POLL_MS = 500;

/**
 * URL-mode elicitation (MCP 2025-11-25) for a call held for approval, when the client declared
 * `elicitation: { url: {} }`: the user is sent to the request in the console, and once the client says they
 * went there (accept) the call waits for the decision (approvals.timeout at most) and then runs, once, as the
 * same call made again would; a denial or expiry ends it. Anything else (decline, cancel, no console URL, a
 * client error, no decision in time) gives the pending result the call had, so the agent can still follow it
 * with access_status. Approving stays in the console or `latch requests approve`: the client's answer decides
 * nothing.
 */
export async function elicitApproval(options: {
  readonly desk: ApprovalDesk;
  readonly session: LiveSession<undefined>;
  readonly pending: CallToolResult;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  readonly ask: (params: ElicitRequestURLParams) => Promise<ElicitResult>;
  /** notifications/elicitation/complete for this elicitation: the decision is in, whichever it was. */
  readonly completed: (elicitationId: string) => Promise<void>;
  readonly rerun: () => Promise<CallToolResult>;
}): Promise<CallToolResult> {
  const { pending, desk, session } = options;
  const held = pending.structuredContent as {
    requestId?: unknown;
    consoleUrl?: unknown;
    approverGroup?: unknown;
  };
  if (typeof held.requestId !== "string" || typeof held.consoleUrl !== "string") return pending;
  const requestId = held.requestId;
  let answer: ElicitResult;
  try {
    answer = await options.ask({
      mode: "url",
      elicitationId: requestId,
      url: held.consoleUrl,
      message: `This call needs approval by group "${String(held.approverGroup ?? "?")}" (request ${requestId}). Open the request in the Latch console; the call goes on once it is approved.`,
    });
  } catch {
    return pending;
  }
  if (answer.action !== "accept") return pending;
  const deadline = Date.now() + options.timeoutMs;
  const stop = AbortSignal.any([options.signal, session.signal]);
  while (!stop.aborted && Date.now() < deadline) {
    const status = await desk.status(requestId, session.identity);
    if (status === undefined) return pending;
    if (status.state !== "pending") await options.completed(requestId).catch(() => undefined);
    if (status.state === "approved") return options.rerun();
    if (status.state === "denied")
      return toolError(
        new LatchError("approval_denied", { request: requestId, reason: status.decisionReason ?? "denied" }),
        { requestId },
      );
    if (status.state !== "pending")
      return toolError(
        new LatchError("approval_expired", {
          request: requestId,
          reason: status.decisionReason ?? status.state,
        }),
        { requestId },
      );
    await sleep(POLL_MS, stop);
  }
  return pending;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
