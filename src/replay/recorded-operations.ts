import { expandEvents } from "../audit/folded-result.js";
import type { SessionFacts } from "../audit/session-facts.js";
import type { Identity } from "../identity/identity.js";
import { needsSessionFacts, type RecordedPolicyInput, resolvePolicyInput } from "../policy/recorded-input.js";
import { type AuditEvent, type AuditReader, MAX_PAGE_SIZE } from "../store/store.js";
import { SessionFactsLookup } from "./session-facts.js";

/**
 * Streams the recorded operations of a time window out of any AuditReader (SQLite or PostgreSQL store), one
 * page at a time: memory stays bounded by a page, whatever the size of the log. The window's first event is
 * found by a binary search over `seq` (events are appended in time order), so `--since 7d` on a year of
 * history does not read the other 51 weeks.
 */

export interface HistoryWindow {
  /** Epoch ms, inclusive. */
  readonly since?: number;
  /** Epoch ms, exclusive. */
  readonly until?: number;
}

export interface RecordedOperation {
  readonly seq: number;
  readonly sessionId: string | null;
  readonly operationId: string;
  /** The decision written when it happened: "allow" (it ran), "deny" or "approval" (held). */
  readonly recorded: string;
  /** The statement texts as recorded (masked where the record masks them). */
  readonly texts: readonly string[];
  /** Epoch ms the operation was decided (old events: when it was appended). */
  readonly at: number;
  /** The question policy answered, or why it was not recorded (old events, refused before policy). */
  readonly input: RecordedPolicyInput | string;
  /** How the protocol carried it ("simple", "extended" on PostgreSQL): whether it could have been previewed. */
  readonly mode: string;
  /**
   * The preview the decision rested on (`data.preview`): the rows it counted when it ran, `null` when it was
   * refused or failed (decided without one), undefined when none was tried, or why the summary is unusable.
   */
  readonly preview: { readonly rows: number } | null | undefined | string;
}

export type HistoryItem =
  | { readonly kind: "operation"; readonly operation: RecordedOperation }
  /** A held operation that an approval later let run. */
  | { readonly kind: "released"; readonly operationId: string; readonly seq: number };

/** Events appended this long after `until` are still read: replicas of a shared store append out of time order. */
const CLOCK_SLACK_MS = 5 * 60_000;

export async function* recordedHistory(
  reader: AuditReader,
  window: HistoryWindow = {},
  onPage?: (lastSeq: number, events: number) => void,
): AsyncGenerator<HistoryItem> {
  let after = window.since === undefined ? 0 : await lastSeqBefore(reader, window.since - CLOCK_SLACK_MS);
  const sessions = new SessionFactsLookup(reader);
  for (;;) {
    const page = await reader.events({ afterSeq: after, limit: MAX_PAGE_SIZE });
    if (page.length === 0) return;
    // Logical events: an operation carrying its session's previous result reads as the result, then itself.
    for (const event of expandEvents(page)) {
      if (window.until !== undefined && Date.parse(event.ts) >= window.until + CLOCK_SLACK_MS) return;
      sessions.note(event);
      // Version 2 inputs leave the session's facts (caller, connection, address) to its session_start.
      const facts =
        event.kind === "operation" && needsSessionFacts(event.data.policyInput)
          ? await sessions.factsOf(event.sessionId)
          : undefined;
      const item = historyItem(event, facts);
      if (item !== undefined) yield item;
    }
    after = page[page.length - 1]!.seq;
    onPage?.(after, page.length);
    if (page.length < MAX_PAGE_SIZE) return;
  }
}

/** True when the operation's decision time lies in the window (old events: the event's own time). */
export function inWindow(window: HistoryWindow, at: number): boolean {
  return (
    (window.since === undefined || at >= window.since) && (window.until === undefined || at < window.until)
  );
}

function historyItem(event: AuditEvent, session: SessionFacts | undefined): HistoryItem | undefined {
  if (event.kind === "approval_released") {
    const operationId = event.data.operationId;
    return typeof operationId === "string" ? { kind: "released", operationId, seq: event.seq } : undefined;
  }
  if (event.kind !== "operation") return undefined;
  const data = event.data;
  const verdict = data.verdict as { decision?: unknown } | undefined;
  const statements = Array.isArray(data.statements) ? (data.statements as { text?: unknown }[]) : [];
  const input = resolvePolicyInput(data.policyInput, session);
  return {
    kind: "operation",
    operation: {
      seq: event.seq,
      sessionId: event.sessionId,
      operationId: typeof data.operationId === "string" ? data.operationId : `seq-${event.seq}`,
      recorded: typeof verdict?.decision === "string" ? verdict.decision : "unknown",
      texts: statements.map((statement) => (typeof statement.text === "string" ? statement.text : "")),
      at: typeof input === "string" ? Date.parse(event.ts) : input.at,
      input,
      mode: typeof data.mode === "string" ? data.mode : "",
      preview: readPreview(data.preview),
    },
  };
}

/** `data.preview` as operation-pipeline.ts writes it (statement-preview.ts previewSummary), checked field by field. */
function readPreview(value: unknown): RecordedOperation["preview"] {
  if (value === undefined) return undefined;
  const summary = value as { status?: unknown; rows?: unknown } | null;
  if (summary?.status === "refused" || summary?.status === "failed") return null;
  if (summary?.status === "ran" && typeof summary.rows === "number" && Number.isSafeInteger(summary.rows))
    return { rows: summary.rows };
  return "the recorded preview summary is malformed";
}

/** The highest seq whose event is older than `time` (0 when none is): binary search, O(log n) one-row reads. */
async function lastSeqBefore(reader: AuditReader, time: number): Promise<number> {
  const at = async (afterSeq: number): Promise<AuditEvent | undefined> =>
    (await reader.events({ afterSeq, limit: 1 }))[0];
  const first = await at(0);
  if (first === undefined || Date.parse(first.ts) >= time) return 0;
  // Find an upper bound by doubling, then bisect: lo's next event is older than time, hi's is not (or none).
  let lo = first.seq - 1;
  let step = 1024;
  let hi = lo + step;
  for (;;) {
    const event = await at(hi);
    if (event === undefined || Date.parse(event.ts) >= time) break;
    lo = hi;
    step *= 2;
    hi = lo + step;
  }
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const event = await at(mid);
    if (event === undefined || Date.parse(event.ts) >= time) hi = mid;
    else lo = mid;
  }
  return lo;
}

/**
 * One Identity object per distinct caller, so the engine's per-identity memo (decision-keys.ts) holds across
 * a caller's operations. Bounded: cleared when it grows past `limit` distinct callers.
 */
export class IdentityInterner {
  private readonly identities = new Map<string, Identity>();
  private readonly labels = new Map<string, Readonly<Record<string, string>>>();

  constructor(private readonly limit = 10_000) {}

  identityOf(input: RecordedPolicyInput): Identity {
    const key = `${input.issuer}\u0000${input.subject}\u0000${input.groups.join("\u0000")}`;
    let identity = this.identities.get(key);
    if (identity === undefined) {
      if (this.identities.size >= this.limit) this.identities.clear();
      identity = { subject: input.subject, issuer: input.issuer, groups: input.groups, expiresAt: Infinity };
      this.identities.set(key, identity);
    }
    return identity;
  }

  /** The same labels object for the same labels, for the same reason. */
  labelsOf(input: RecordedPolicyInput): Readonly<Record<string, string>> {
    const key = `${input.connection}\u0000${JSON.stringify(input.labels)}`;
    let labels = this.labels.get(key);
    if (labels === undefined) {
      if (this.labels.size >= this.limit) this.labels.clear();
      labels = input.labels;
      this.labels.set(key, labels);
    }
    return labels;
  }
}
