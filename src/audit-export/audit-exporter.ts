import { SessionFactsLookup } from "../replay/session-facts.js";
import type { AuditExportCursors } from "../store/audit-export-cursors.js";
import type { AuditEvent, AuditReader } from "../store/store.js";
import type { ExportedEvent, ExportSink } from "./export-sink.js";

/** Each event with its session's facts (export-sink.ts ExportedEvent); a session_start already holds them. */
async function withSessionFacts(
  events: readonly AuditEvent[],
  sessions: SessionFactsLookup,
): Promise<ExportedEvent[]> {
  const exported: ExportedEvent[] = [];
  for (const event of events) {
    sessions.note(event);
    const session =
      event.kind === "session_start" || event.sessionId === null
        ? undefined
        : await sessions.factsOf(event.sessionId);
    exported.push(session === undefined ? event : { ...event, session });
  }
  return exported;
}

/** What /metrics shows per sink. */
export interface ExportStatus {
  readonly sink: string;
  /** Events written to the log and not yet delivered. */
  readonly lagEvents: number;
  /** Age of the oldest event not yet delivered (0 when caught up). */
  readonly lagSeconds: number;
  readonly failures: number;
  readonly exported: number;
}

export interface AuditExporterOptions {
  readonly sinks: readonly ExportSink[];
  /** Committed events: the exporter only reads what the log already holds, never the write path. */
  readonly reader: Pick<AuditReader, "events">;
  readonly cursors: AuditExportCursors;
  /** The last seq written (the audit writer's head), for the lag. */
  readonly headSeq: () => number;
  readonly pollMs: number;
  readonly batch?: number;
  readonly retry?: { readonly firstMs: number; readonly maxMs: number };
  readonly now?: () => number;
  /**
   * How long a sink's lease lasts on a shared store (cursors.claim): renewed before every batch, so another
   * replica takes the sink over this long after its exporter stopped renewing. Default 15 s.
   */
  readonly leaseMs?: number;
  /** Told of each failed delivery: a message with no secret in it (ExportFailure). */
  readonly onFailure?: (sink: string, error: unknown) => void;
}

export interface AuditExporter {
  status(): ExportStatus[];
  /** Resolves once every sink's loop has stopped (a send in flight is awaited). */
  stop(): Promise<void>;
}

/**
 * Streams every audit event, in order and at least once, to each sink: one loop per sink, off the statement
 * path, reading committed events after the sink's cursor (kept in the store). A failure rewinds to the last
 * seq the sink confirmed and retries with backoff; audit writes never wait for a sink. On a shared store the
 * loop exports only while this replica holds the sink's lease, and otherwise stands by, following the cursor.
 */
export function startAuditExporter(options: AuditExporterOptions): AuditExporter {
  const now = options.now ?? Date.now;
  const retry = options.retry ?? { firstMs: 500, maxMs: 30_000 };
  const batch = options.batch ?? 500;
  const leaseMs = options.leaseMs ?? 15_000;
  let stopped = false;
  const wakeAll: (() => void)[] = [];
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        const at = wakeAll.indexOf(done);
        if (at >= 0) wakeAll.splice(at, 1);
        resolve();
      }
      wakeAll.push(done);
    });

  const states = options.sinks.map((sink) => ({
    sink,
    cursor: 0,
    /** ts of the event right after the cursor, once read. */
    oldestPendingTs: undefined as number | undefined,
    failures: 0,
    exported: 0,
  }));

  const loop = async (state: (typeof states)[number]): Promise<void> => {
    const { sink } = state;
    let delay = retry.firstMs;
    for (;;) {
      if (stopped) return;
      try {
        state.cursor = await options.cursors.get(sink.name);
        break;
      } catch (error) {
        state.failures++;
        options.onFailure?.(sink.name, error);
        await sleep(delay);
        delay = Math.min(delay * 2, retry.maxMs);
      }
    }
    let position = state.cursor;
    // Bounded like replay's: sessions that ended are dropped, one that began before the cursor is read once.
    const sessions = new SessionFactsLookup(options.reader, 10_000);
    let holding = options.cursors.claim === undefined;
    delay = retry.firstMs;
    while (!stopped) {
      try {
        if (options.cursors.claim !== undefined) {
          const held = await options.cursors.claim(sink.name, leaseMs);
          if (!held || !holding) {
            // Another replica exports this sink (or did until now): go on from where it got.
            state.cursor = await options.cursors.get(sink.name);
            position = state.cursor;
            state.oldestPendingTs = undefined;
          }
          holding = held;
          if (!held) {
            await sleep(options.pollMs);
            continue;
          }
        }
        const events = await options.reader.events({ afterSeq: position, limit: batch });
        if (position === state.cursor) state.oldestPendingTs = events[0] && Date.parse(events[0].ts);
        const confirmed = await sink.send(await withSessionFacts(events, sessions));
        if (events.length > 0) position = events[events.length - 1]!.seq;
        if (confirmed > state.cursor) {
          await options.cursors.set(sink.name, confirmed);
          state.exported += confirmed - state.cursor;
          state.cursor = confirmed;
          state.oldestPendingTs = undefined;
        }
        delay = retry.firstMs;
        if (events.length < batch) await sleep(options.pollMs);
      } catch (error) {
        state.failures++;
        options.onFailure?.(sink.name, error);
        position = state.cursor;
        await sleep(delay);
        delay = Math.min(delay * 2, retry.maxMs);
      }
    }
  };
  const running = states.map((state) => loop(state));

  return {
    status: () => {
      const head = options.headSeq();
      return states.map((state) => {
        const lagEvents = Math.max(0, head - state.cursor);
        const lagSeconds =
          lagEvents === 0 || state.oldestPendingTs === undefined
            ? 0
            : Math.max(0, (now() - state.oldestPendingTs) / 1000);
        return {
          sink: state.sink.name,
          lagEvents,
          lagSeconds,
          failures: state.failures,
          exported: state.exported,
        };
      });
    },
    async stop() {
      stopped = true;
      for (const done of wakeAll.splice(0)) done();
      await Promise.all(running);
      // Leases given up at a clean stop: another replica takes the sinks over without waiting for them to run out.
      await Promise.all(
        options.sinks.map((sink) => options.cursors.release?.(sink.name).catch(() => undefined)),
      );
      await Promise.all(options.sinks.map((sink) => sink.close().catch(() => undefined)));
    },
  };
}
