import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { LatchError } from "../../errors.js";

/** A tool's answer: a JSON text block for every client, and the same object as structured content. */
export function toolResult(value: Record<string, unknown>): CallToolResult {
  return { content: [{ type: "text", text: JSON.stringify(value) }], structuredContent: value };
}

/** A refusal or failure, in the tool result (isError) so the agent reads why and what to do. */
export function toolError(
  error: LatchError | { readonly code: string; readonly message: string },
  extra: Record<string, unknown> = {},
): CallToolResult {
  const { code, message } = error;
  const value = { error: code, message, ...extra };
  return { content: [{ type: "text", text: `latch: ${message}` }], structuredContent: value, isError: true };
}

/**
 * A call held for approval that did not wait: not a failure. It names what the agent needs to go on: the
 * request, who approves, where, and that the same call made again after approval runs once.
 */
export function pendingResult(pending: {
  readonly requestId: string;
  readonly group: string | undefined;
  readonly quorum: number | undefined;
  readonly consoleUrl: string | undefined;
  readonly reason: string;
}): CallToolResult {
  const value = {
    status: "pending_approval",
    requestId: pending.requestId,
    approverGroup: pending.group ?? null,
    quorum: pending.quorum ?? 1,
    ...(pending.consoleUrl === undefined
      ? {}
      : { consoleUrl: `${pending.consoleUrl.replace(/\/$/, "")}/#/requests/${pending.requestId}` }),
    reason: pending.reason,
    next: "poll access_status with this requestId; once it is approved, make the same call with the same arguments again: it then runs once",
  };
  return {
    content: [
      {
        type: "text",
        text: `held for approval by group "${pending.group ?? "?"}" (request ${pending.requestId}); once approved, call again with the same arguments`,
      },
      { type: "text", text: JSON.stringify(value) },
    ],
    structuredContent: value,
  };
}
