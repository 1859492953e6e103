import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { asLatchError, LatchError } from "../../errors.js";
import { argumentsHash } from "./arguments-hash.js";
import { refusedResult, sessionOn, toolAdmission } from "./tool-admission.js";
import type { CallExtras, ToolContext } from "./tool-context.js";
import { toolError, toolResult } from "./tool-results.js";

/**
 * The tools that go another protocol's own way: `ssh_exec` through the SSH protocol's exec path,
 * `http_request` through the HTTP protocol's request core. That protocol builds and judges the operation as
 * for its own clients; toolAdmission makes it one of this MCP session's tool calls.
 */

export async function runSshExec(
  context: ToolContext,
  args: { connection: string; command: string },
  extras: CallExtras,
): Promise<CallToolResult> {
  const runner = context.ssh;
  if (runner === undefined || !runner.connections().includes(args.connection))
    return toolError(new LatchError("connection_unknown", { name: args.connection.slice(0, 63) }));
  const admission = toolAdmission(context, extras, "ssh_exec", argumentsHash("ssh_exec", args));
  context.session.touch();
  let result: Awaited<ReturnType<typeof runner.exec>>;
  try {
    result = await runner.exec({
      session: sessionOn(context, args.connection),
      pipeline: admission.pipeline,
      signal: extras.signal,
      command: args.command,
      maxOutputBytes: context.config.mcp.max_output_bytes,
    });
  } catch (error) {
    return toolError(asLatchError(error, context.session.id));
  }
  const classification = admission.classification();
  const admitted = admission.admission();
  if (admitted !== undefined && !admitted.allowed) return refusedResult(context, admitted);
  if (!result.ran) return toolError(result, { classification });
  return toolResult({
    exitCode: result.exitCode,
    signal: result.signal,
    stdout: result.stdout,
    stderr: result.stderr,
    truncated: result.truncated,
    classification,
  });
}

export async function runHttpRequest(
  context: ToolContext,
  args: { connection: string; method: string; path: string; body?: string },
  extras: CallExtras,
): Promise<CallToolResult> {
  const runner = context.http;
  if (runner === undefined || !runner.connections().includes(args.connection))
    return toolError(new LatchError("connection_unknown", { name: args.connection.slice(0, 63) }));
  const admission = toolAdmission(context, extras, "http_request", argumentsHash("http_request", args));
  context.session.touch();
  let response: Awaited<ReturnType<typeof runner.run>>;
  try {
    response = await runner.run({
      session: sessionOn(context, args.connection),
      pipeline: admission.pipeline,
      signal: extras.signal,
      method: args.method,
      path: args.path,
      ...(args.body === undefined ? {} : { body: args.body }),
      maxBodyBytes: context.config.mcp.max_output_bytes,
    });
  } catch (error) {
    return toolError(asLatchError(error, context.session.id));
  }
  const classification = admission.classification();
  const admitted = admission.admission();
  if (admitted !== undefined && !admitted.allowed) return refusedResult(context, admitted);
  // Refused before policy was asked (a method Latch does not judge, a path that does not normalise): the
  // answer is the core's own problem+json. After admission, a failure the core recorded is Latch's too.
  // (A body cut short is recorded as aborted: that is the cap, not a failure.)
  const problem =
    admitted === undefined
      ? latchProblem(response.body)
      : response.truncated
        ? undefined
        : admission.failure();
  if (problem !== undefined) return toolError(problem, { status: response.status, classification });
  return toolResult({
    status: response.status,
    headers: response.headers,
    body: response.body,
    truncated: response.truncated,
    classification,
  });
}

/** The code and message of a problem+json the HTTP core wrote. */
function latchProblem(body: string): { code: string; message: string } {
  try {
    const value = JSON.parse(body) as { type?: unknown; code?: unknown; detail?: unknown; title?: unknown };
    const code = typeof value.code === "string" ? value.code : "http_request_refused";
    const message = typeof value.detail === "string" ? value.detail : String(value.title ?? code);
    return { code, message };
  } catch {
    return { code: "http_request_refused", message: body.slice(0, 200) };
  }
}
