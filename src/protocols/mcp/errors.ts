import type { LatchError } from "../../errors.js";

/**
 * The one place a LatchError becomes what an MCP client sees. Before a session, an HTTP status (401 with a
 * bearer challenge for identity failures, 403 for a blocked principal, 503 when the gateway cannot record);
 * inside a session, a tool result with isError, the code and the message (tool-results.ts).
 */
export function mcpHttpStatus(error: LatchError): number {
  if (error.code === "principal_blocked") return 403;
  if (error.spec.class === "identity") return 401;
  if (error.spec.class === "denial") return 403;
  return 503;
}

/** A LatchError as a JSON-RPC error body (what `renderError` hands the composition root). */
export function mcpErrorBody(error: LatchError): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id: null,
    error: { code: -32001, message: error.message, data: { code: error.code } },
  });
}
