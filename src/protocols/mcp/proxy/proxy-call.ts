import { randomUUID } from "node:crypto";
import type { CallToolResult, Tool } from "@modelcontextprotocol/sdk/types.js";
import { canonicalJson } from "../../../audit/canonical-json.js";
import { asLatchError, LatchError } from "../../../errors.js";
import { parseDuration } from "../../../identity/parse-duration.js";
import { MaskTally } from "../../../masking/mask-tally.js";
import { MaskingFailure } from "../../../masking/masking-failure.js";
import type { Operation } from "../../../operation/operation.js";
import { argumentsHash } from "../arguments-hash.js";
import { waitingOptions } from "../call-waiting.js";
import type { CallExtras } from "../tool-context.js";
import { pendingResult, toolError } from "../tool-results.js";
import { argumentFacts, checkArgumentRules, MAX_ARGUMENT_BYTES } from "./argument-rules.js";
import type { ProxySession } from "./proxy-session.js";
import { resultBytes } from "./result-size.js";

/** The recorded text of a call is cut here; the approval binds the full arguments by their hash. */
const MAX_TEXT_CHARS = 4096;

/**
 * One call of an upstream tool, in the stage order of every operation: the upstream's definition checked
 * against its pin, argument rules, budget, then the pipeline (policy, approval, audit before forwarding), the
 * call with the connection's credential, the result masked, the budget charged, the result recorded.
 */
export async function callProxiedTool(
  proxy: ProxySession,
  name: string,
  raw: unknown,
  extras: CallExtras,
): Promise<CallToolResult> {
  const { session, pipeline } = proxy.context;
  session.touch();
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    return toolError(
      new LatchError("tool_arguments_invalid", { name, reason: "arguments must be an object" }),
    );
  const args = raw as Record<string, unknown>;
  const argumentText = canonicalJson(args);
  if (Buffer.byteLength(argumentText) > MAX_ARGUMENT_BYTES)
    return toolError(
      new LatchError("message_too_large", {
        size: Buffer.byteLength(argumentText),
        limit: MAX_ARGUMENT_BYTES,
      }),
    );

  // The definition as the upstream gives it now: a change since tools/list (a rug pull between listing and
  // calling) is caught here, at the price of one tools/list round trip per call.
  let found:
    | { connection: ReturnType<ProxySession["candidates"]>[number]["connection"]; tool: Tool }
    | undefined;
  for (const candidate of proxy.candidates(name)) {
    let tools: Tool[];
    try {
      tools = await (await proxy.upstream(candidate.connection.name)).listTools(extras.signal);
    } catch (error) {
      return toolError(asLatchError(error, session.id));
    }
    const tool = tools.find((t) => t.name === candidate.tool);
    if (tool !== undefined) {
      found = { connection: candidate.connection, tool };
      break;
    }
  }
  if (found === undefined)
    return toolError(
      new LatchError("tool_arguments_invalid", {
        name: name.slice(0, 128),
        reason: "no such tool for you (tools/list names yours)",
      }),
    );
  const { connection, tool } = found;
  const settings = connection.config.tools[tool.name];
  const hash = argumentsHash(name, args);
  const facts = argumentFacts(args);
  const operation: Operation = {
    id: randomUUID(),
    sessionId: session.id,
    protocol: "mcp",
    connection: connection.name,
    identity: session.identity,
    mode: "call_tool",
    steps: [
      {
        text: cut(`${tool.name} ${argumentText}`),
        action: "mcp:call_tool",
        accesses: [{ action: "mcp:call_tool", resource: { type: "Tool", name: tool.name } }],
        facts: {
          readOnly: settings?.read_only === true,
          hasWhere: true,
          tableCount: 0,
          command: "",
          ...(facts === undefined ? {} : { http: facts }),
        },
        recorded: { tool: name, upstreamTool: tool.name, argumentsHash: hash },
      },
    ],
    // The approval is bound to these: the same call with other arguments is another request.
    parameterDigests: [[hash]],
    receivedAt: Date.now(),
  };
  const refuse = (error: LatchError) => {
    pipeline.recordRefusal(operation, error);
    return toolError(error);
  };

  const pinned = await proxy.checkPin(connection, tool);
  if (!pinned.ok) return refuse(pinned.error);
  if (facts === undefined)
    return refuse(
      new LatchError("tool_arguments_invalid", {
        name,
        reason: "arguments nest too deep or hold too many values for policy to see them all",
      }),
    );
  const budget = connection.config.budget;
  const used = proxy.budget(connection.name);
  if (budget.calls !== undefined && used.calls >= budget.calls)
    return refuse(
      new LatchError("mcp_budget_exceeded", {
        connection: connection.name,
        what: `${budget.calls} calls`,
      }),
    );
  if (budget.result_bytes !== undefined && used.resultBytes >= budget.result_bytes)
    return refuse(
      new LatchError("mcp_budget_exceeded", {
        connection: connection.name,
        what: `${budget.result_bytes} result bytes`,
      }),
    );
  const rule = checkArgumentRules(settings, args);
  if (rule.kind === "deny") return refuse(new LatchError("statement_denied", { reason: rule.reason }));

  const admission = await pipeline.admit(
    operation,
    { clientAddress: session.clientAddress, connectionLabels: connection.config.labels },
    {
      signal: AbortSignal.any([extras.signal, session.signal]),
      ...(rule.kind === "approval"
        ? {
            requireApproval: {
              group: rule.group,
              rule: `latch.yaml#connections.${connection.name}.tools.${tool.name}`,
              reason: rule.reason,
            },
          }
        : {}),
      ...waitingOptions(extras),
    },
  );
  if (!admission.allowed) {
    if (admission.error.code === "approval_deferred" && admission.requestId !== undefined)
      return pendingResult({
        requestId: admission.requestId,
        group: admission.verdict.approval?.group,
        quorum: admission.verdict.approval?.quorum,
        consoleUrl: proxy.context.desk?.consoleUrl,
        reason: admission.verdict.reason,
      });
    return toolError(
      admission.error,
      admission.requestId === undefined ? {} : { requestId: admission.requestId },
    );
  }
  if (admission.grantExpiresAt !== undefined) session.usedGrant(admission.grantExpiresAt);
  session.remember(operation.steps);
  used.calls += 1;

  const started = performance.now();
  const timeout = AbortSignal.timeout(parseDuration(connection.config.timeout));
  let answer: CallToolResult;
  try {
    const upstream = await proxy.upstream(connection.name);
    answer = await upstream.callTool(tool.name, args, AbortSignal.any([timeout, session.signal]));
  } catch (cause) {
    const failure =
      cause instanceof LatchError
        ? cause
        : new LatchError("upstream_statement_failed", {
            name: connection.name,
            reason: (cause as Error).message.slice(0, 500),
          });
    const { result } = connection.masker.mask({ content: [{ type: "text", text: failure.message }] });
    const message = result.content[0]?.type === "text" ? result.content[0].text : failure.code;
    pipeline.complete(operation, {
      durationMs: performance.now() - started,
      rows: 0,
      commandTags: [],
      error: { code: failure.code, message },
      details: { tool: name, argumentsHash: hash },
    });
    return toolError({ code: failure.code, message });
  }
  // Refused before masking: a huge result would be masked, recorded and sent whole otherwise.
  const limit = connection.config.max_result_bytes;
  const size = resultBytes(answer, limit);
  if (size > limit) {
    const error = new LatchError("mcp_result_too_large", {
      tool: name,
      connection: connection.name,
      size,
      limit,
    });
    pipeline.complete(operation, {
      durationMs: performance.now() - started,
      rows: 0,
      commandTags: [],
      error: { code: error.code, message: error.message },
      details: { tool: name, argumentsHash: hash, resultBytes: size },
    });
    return toolError(error);
  }
  let masked: ReturnType<typeof connection.masker.mask>;
  // Only with tracing on: the connection's masker is shared by its sessions, so the tally is this call's.
  const tally = pipeline.traceMask === undefined ? undefined : new MaskTally();
  const since = tally === undefined ? 0 : performance.now();
  try {
    masked = connection.masker.mask(answer, tally);
  } catch (cause) {
    const reason = cause instanceof MaskingFailure ? cause.reason : "the result could not be masked";
    const error = new LatchError("response_withheld", { reason });
    if (tally !== undefined) {
      tally.noteWithheld(since);
      pipeline.traceMask?.(operation, tally);
    }
    pipeline.complete(operation, {
      durationMs: performance.now() - started,
      rows: 0,
      commandTags: [],
      error: { code: error.code, message: error.message },
      details: { tool: name, argumentsHash: hash },
    });
    return toolError(error);
  }
  used.resultBytes += masked.summary.bytes;
  const overBudget = budget.result_bytes !== undefined && used.resultBytes > budget.result_bytes;
  const error = overBudget
    ? new LatchError("mcp_budget_exceeded", {
        connection: connection.name,
        what: `${budget.result_bytes} result bytes (this call ran, its ${masked.summary.bytes}-byte result is withheld)`,
      })
    : undefined;
  if (tally?.touched === true) pipeline.traceMask?.(operation, tally);
  pipeline.complete(operation, {
    durationMs: performance.now() - started,
    rows: 0,
    commandTags: [],
    ...(error === undefined ? {} : { error: { code: error.code, message: error.message } }),
    details: {
      tool: name,
      argumentsHash: hash,
      isError: answer.isError === true,
      resultBytes: masked.summary.bytes,
      resultBlocks: masked.summary.blocks,
      withheldBlocks: masked.summary.withheld,
      resultPreview: masked.summary.preview,
    },
  });
  return error === undefined ? masked.result : toolError(error);
}

function cut(text: string): string {
  return text.length <= MAX_TEXT_CHARS ? text : `${text.slice(0, MAX_TEXT_CHARS - 1)}…`;
}
