import type { ApprovalOutcome } from "../approvals/approval-types.js";
import { recordedSessionFacts } from "../audit/session-facts.js";
import { LatchError } from "../errors.js";
import type { Operation, Verdict } from "../operation/operation.js";
import { recordPolicyInput } from "../policy/recorded-input.js";

const MAX_RECORDED_TEXT = 8192;
const MAX_RECORDED_PARAM = 256;

/**
 * The `operation` event body. Field names are part of the recording format: each step is recorded as
 * `{ text, verb, ...protocol fields }` (SQL adds tablesRead/tablesWritten), as it always was. With the context
 * policy saw, `policyInput` records the question the engine answered (policy/recorded-input.ts), for replay:
 * without what its session's durable `session_start` already holds (audit/session-facts.ts) when they agree.
 */
export function operationRecord(
  operation: Operation,
  verdict: Verdict,
  context?: { readonly clientAddress: string; readonly connectionLabels: Readonly<Record<string, string>> },
): Record<string, unknown> {
  // Keys inserted in sorted order at every level: the canonical encoding then takes its native path (one string
  // instead of one per member); the recorded JSON is the same either way.
  const record: Record<string, unknown> = { mode: operation.mode, operationId: operation.id };
  if (operation.parameters !== undefined) {
    record.parameters = operation.parameters.map((row) =>
      row.map((value) =>
        value !== null && value.length > MAX_RECORDED_PARAM
          ? `${value.slice(0, MAX_RECORDED_PARAM)}…`
          : value,
      ),
    );
  }
  if (context !== undefined) {
    record.policyInput = recordPolicyInput(
      operation.identity,
      operation.connection,
      context,
      operation.receivedAt,
      operation.steps,
      recordedSessionFacts.get(operation.sessionId),
    );
  }
  // The protocol's own fields first (SQL: tablesRead, tablesWritten), then the text and verb, which are ours.
  record.statements = operation.steps.map((step) => ({
    ...step.recorded,
    text: step.text.length > MAX_RECORDED_TEXT ? `${step.text.slice(0, MAX_RECORDED_TEXT)}…` : step.text,
    verb: step.action,
  }));
  record.verdict = { decision: verdict.decision, reason: verdict.reason, rules: verdict.rules };
  return record;
}

/**
 * The `operation_result` body. Its keys are inserted in sorted order with the protocol's details merged in
 * where they sort (a detail named like one of ours wins, as it always did), so the canonical encoding takes
 * its native path, also when the result rides folded in the next operation (audit/folded-result.ts).
 */
export function resultRecord(
  operation: Operation,
  result: {
    readonly durationMs: number;
    readonly rows: number;
    readonly commandTags: readonly string[];
    readonly error?: { readonly code: string; readonly message: string };
    readonly details?: Readonly<Record<string, unknown>>;
  },
): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  const details = result.details;
  if (details === undefined) {
    record.commandTags = result.commandTags;
    record.durationMs = Math.round(result.durationMs * 1000) / 1000;
    if (result.error !== undefined) record.error = result.error;
    record.operationId = operation.id;
    record.rows = result.rows;
    return record;
  }
  const keys = Object.keys(details);
  // Most protocols build their details in sorted order already: a check is cheaper than Array#sort, whose merge
  // buffer was the largest single allocation of an HTTP request's record (docs/benchmarks.md, stop 26).
  if (!inOrder(keys)) keys.sort();
  let next = mergeOwn(record, details, keys, 0, "commandTags", result.commandTags);
  next = mergeOwn(record, details, keys, next, "durationMs", Math.round(result.durationMs * 1000) / 1000);
  next = mergeOwn(record, details, keys, next, "error", result.error);
  next = mergeOwn(record, details, keys, next, "operationId", operation.id);
  next = mergeOwn(record, details, keys, next, "rows", result.rows);
  for (; next < keys.length; next++) record[keys[next]!] = details[keys[next]!];
  return record;
}

function inOrder(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}

/**
 * Copies the details whose keys (sorted, from `next` on) sort before `key`, then `key` itself: the detail of
 * that name when there is one, else `value` unless it is undefined. Returns where the details go on from.
 */
function mergeOwn(
  record: Record<string, unknown>,
  details: Readonly<Record<string, unknown>>,
  keys: readonly string[],
  next: number,
  key: string,
  value: unknown,
): number {
  let at = next;
  while (at < keys.length && keys[at]! < key) {
    record[keys[at]!] = details[keys[at]!];
    at++;
  }
  if (at < keys.length && keys[at] === key) {
    record[key] = details[key];
    return at + 1;
  }
  if (value !== undefined) record[key] = value;
  return at;
}

/** What the client hears when an approval does not release its operation. */
export function approvalError(outcome: Exclude<ApprovalOutcome, { decision: "approved" }>): LatchError {
  const request = outcome.requestId;
  switch (outcome.decision) {
    case "deferred":
      // The request id is not in the message (SQL clients re-run the statement); HTTP answers it in a header.
      return new LatchError("approval_deferred", { reason: outcome.reason, request });
    case "expired":
      return new LatchError("approval_expired", { request, reason: outcome.reason });
    case "abandoned":
    case "denied":
      return request === ""
        ? new LatchError("approval_unavailable", { reason: outcome.reason })
        : new LatchError("approval_denied", { request, reason: outcome.reason });
  }
}

export function withoutUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}
