/**
 * One chained event per statement (issue 12): a session's `operation_result` is not chained on its own when
 * the same session's next `operation` follows within the lazy window; it rides in that operation's body as
 * the member `priorResult`, the exact body it would have had standalone. The chain (hash, journal, index) holds
 * the carrier as written; everything that shows or analyses events reads the logical events `expandFolded`
 * gives back: the result first, then the operation without the member, as if both had been chained apart.
 * Export and verification read the raw chain (docs/audit.md, "Folded results").
 *
 * The types are structural so that this module, which the store uses, imports nothing from the store.
 */

/** The member of an `operation` body that carries the session's previous result. */
export const FOLDED_RESULT_MEMBER = "priorResult";

interface EventBody {
  readonly kind: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** True when `event` can carry a folded result: an operation that does not carry one yet. */
export function canCarryResult(event: EventBody): boolean {
  return event.kind === "operation" && event.data[FOLDED_RESULT_MEMBER] === undefined;
}

/**
 * The operation body with `result` folded in. Keys stay in the order they were (the operation record inserts
 * them sorted, so the canonical encoding keeps its native path: see canonical-json.ts), the new member where
 * it sorts.
 */
export function foldResult(
  operation: Readonly<Record<string, unknown>>,
  result: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const keys = Object.keys(operation);
  // The two layouts operationRecord writes for a statement (with and without bound parameters), built as
  // literals: the same members in the same order as the loop below gives, without a keyed store and a map
  // transition per member.
  if (keys.length === 6 && keys[2] === "parameters" && isRecordLayout(keys, 3)) {
    return {
      mode: operation.mode,
      operationId: operation.operationId,
      parameters: operation.parameters,
      policyInput: operation.policyInput,
      priorResult: result,
      statements: operation.statements,
      verdict: operation.verdict,
    };
  }
  if (keys.length === 5 && isRecordLayout(keys, 2)) {
    return {
      mode: operation.mode,
      operationId: operation.operationId,
      policyInput: operation.policyInput,
      priorResult: result,
      statements: operation.statements,
      verdict: operation.verdict,
    };
  }
  const folded: Record<string, unknown> = {};
  let placed = false;
  for (const key of keys) {
    if (!placed && key > FOLDED_RESULT_MEMBER) {
      folded[FOLDED_RESULT_MEMBER] = result;
      placed = true;
    }
    folded[key] = operation[key];
  }
  if (!placed) folded[FOLDED_RESULT_MEMBER] = result;
  return folded;
}

/** `mode`, `operationId`, then from `policyAt` on `policyInput`, `statements`, `verdict`. */
function isRecordLayout(keys: readonly string[], policyAt: number): boolean {
  return (
    keys[0] === "mode" &&
    keys[1] === "operationId" &&
    keys[policyAt] === "policyInput" &&
    keys[policyAt + 1] === "statements" &&
    keys[policyAt + 2] === "verdict"
  );
}

function foldedResultOf(data: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined {
  const result = data[FOLDED_RESULT_MEMBER];
  return typeof result === "object" && result !== null && !Array.isArray(result)
    ? (result as Record<string, unknown>)
    : undefined;
}

/**
 * The logical events of one chained event: itself, or for an operation carrying a folded result, that result
 * as an `operation_result` followed by the operation without it. Both halves keep the carrier's seq, ts, sessionId,
 * prevHash and hash (the result was chained with it; its own append time was, as before, when its group was
 * written), so paging by seq never splits them. A hash checked against a half fails: verify the raw chain.
 */
export function expandFolded<E extends EventBody>(event: E): E[] {
  if (event.kind !== "operation") return [event];
  const result = foldedResultOf(event.data);
  if (result === undefined) return [event];
  const { [FOLDED_RESULT_MEMBER]: _folded, ...operation } = event.data;
  return [
    { ...event, kind: "operation_result", data: result },
    { ...event, data: operation },
  ];
}

/** Every event of a page expanded, in chain order. */
export function expandEvents<E extends EventBody>(events: readonly E[]): E[] {
  const expanded: E[] = [];
  for (const event of events) {
    if (event.kind === "operation" && foldedResultOf(event.data) !== undefined)
      expanded.push(...expandFolded(event));
    else expanded.push(event);
  }
  return expanded;
}
