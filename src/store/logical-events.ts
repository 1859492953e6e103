import { expandEvents } from "../audit/folded-result.js";
import type { AuditEvent, AuditFilter, AuditReader } from "./store.js";

/**
 * The events as readers show them: each operation that carries its session's previous result read as that
 * `operation_result` followed by the operation (audit/folded-result.ts), then held to the filter again, since
 * the store matched the chained event (a `kind: "operation"` search finds a carrier, not its result). A page
 * holds at most `limit` chained events, so up to twice as many logical ones; both halves of a carrier share
 * its seq, so paging on with `afterSeq` never splits them. Export and chain verification read `events`.
 */
export async function logicalEvents(
  reader: Pick<AuditReader, "events">,
  filter: AuditFilter = {},
): Promise<AuditEvent[]> {
  const events = expandEvents(await reader.events(filter));
  const onlyOperations = filter.decision !== undefined || filter.text !== undefined;
  if (filter.kind === undefined && !onlyOperations) return events;
  return events.filter(
    (event) =>
      (filter.kind === undefined || event.kind === filter.kind) &&
      (!onlyOperations || event.kind === "operation"),
  );
}
