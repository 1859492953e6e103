import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Operation } from "../../operation/operation.js";
import type { Admission, AdmitOptions, Admitter } from "../../pipeline/pipeline-types.js";
import type { SessionHandle } from "../../session/session-handle.js";
import { heldProgressText } from "./call-waiting.js";
import type { CallExtras, ToolContext } from "./tool-context.js";
import { pendingResult, toolError } from "./tool-results.js";

/**
 * A tool call that goes another protocol's own way (ssh_exec, http_request): that protocol builds the
 * operation exactly as for its own clients, and this admitter, handed to it in place of the pipeline, makes
 * it one of the MCP session's tool calls: protocol `mcp`, mode = the tool, each step recorded with the tool
 * and the arguments hash, the approval bound to that hash (so an approved call runs once, with the same
 * arguments only), and the call's own way of waiting (held with progress, or deferred to a pending result).
 */
export interface ToolAdmission {
  readonly pipeline: Admitter;
  /** The admission the operation got, once it was asked; undefined when it was refused before that. */
  admission(): Admission | undefined;
  /** How Latch classified the call (the actions it was judged as), once its operation was built. */
  classification(): ToolClassification | undefined;
  /** The error the operation's result was recorded with (the upstream failed, a body was withheld). */
  failure(): { readonly code: string; readonly message: string } | undefined;
}

/** Carried by every tool result that ran an operation, so the agent sees what Latch took the call for. */
export interface ToolClassification {
  readonly actions: readonly string[];
  readonly readOnly: boolean;
}

export function classificationOf(operation: Pick<Operation, "steps">): ToolClassification {
  return {
    actions: [...new Set(operation.steps.map((step) => step.action))],
    readOnly: operation.steps.every((step) => step.facts.readOnly),
  };
}

export function toolAdmission(
  context: ToolContext,
  extras: CallExtras,
  tool: string,
  hash: string,
): ToolAdmission {
  const inner = context.pipeline;
  const decorated = new WeakMap<Operation, Operation>();
  const asToolCall = (operation: Operation): Operation => {
    let found = decorated.get(operation);
    if (found === undefined) {
      seen = operation;
      found = {
        ...operation,
        protocol: "mcp",
        mode: tool,
        steps: operation.steps.map((step) => ({
          ...step,
          recorded: { ...step.recorded, tool, argumentsHash: hash },
        })),
        parameterDigests: operation.steps.map(() => [hash]),
      };
      decorated.set(operation, found);
    }
    return found;
  };
  let admission: Admission | undefined;
  let seen: Operation | undefined;
  let failure: { readonly code: string; readonly message: string } | undefined;
  const pipeline: Admitter = {
    async admit(operation, operationContext, options: AdmitOptions = {}) {
      const progress = extras.progress;
      admission = await inner.admit(asToolCall(operation), operationContext, {
        signal:
          options.signal === undefined ? extras.signal : AbortSignal.any([options.signal, extras.signal]),
        mode: progress === undefined ? "defer" : "hold",
        onHeld: (hold) => {
          options.onHeld?.(hold);
          void progress?.(heldProgressText(hold));
        },
      });
      return admission;
    },
    recordRefusal: (operation, error) => inner.recordRefusal(asToolCall(operation), error),
    complete: (operation, result) => {
      failure ??= result.error;
      inner.complete(asToolCall(operation), result);
    },
    recordProtocolError: (sessionId, error) => inner.recordProtocolError(sessionId, error),
    recordDurably: (event) => inner.recordDurably(event),
    record: (event, options) => inner.record(event, options),
  };
  // Set only when tracing is (the protocol checks for it before it counts anything).
  if (inner.traceMask !== undefined)
    pipeline.traceMask = (operation, tally) => inner.traceMask?.(asToolCall(operation), tally);
  return {
    pipeline,
    admission: () => admission,
    classification: () => (seen === undefined ? undefined : classificationOf(seen)),
    failure: () => failure,
  };
}

/** The MCP session as a session on one target connection: its id and identity, that connection's name and labels. */
export function sessionOn(context: ToolContext, connection: string): SessionHandle {
  const live = context.session;
  const found = context.config.connections[connection];
  return {
    id: live.id,
    identity: live.identity,
    connection,
    connectionLabels: found?.labels ?? {},
    clientAddress: live.clientAddress,
    signal: live.signal,
    touch: () => live.touch(),
    usedGrant: (expiresAt) => live.usedGrant(expiresAt),
    remember: (steps) => live.remember(steps),
  };
}

/** What a tool answers for an admission that did not let its operation through. */
export function refusedResult(
  context: Pick<ToolContext, "desk">,
  admission: Extract<Admission, { allowed: false }>,
): CallToolResult {
  if (admission.error.code === "approval_deferred" && admission.requestId !== undefined)
    return pendingResult({
      requestId: admission.requestId,
      group: admission.verdict.approval?.group,
      quorum: admission.verdict.approval?.quorum,
      consoleUrl: context.desk?.consoleUrl,
      reason: admission.verdict.reason,
    });
  return toolError(admission.error, {
    ...(admission.requestId === undefined ? {} : { requestId: admission.requestId }),
    rules: admission.verdict.rules,
  });
}
