import { type SessionFacts, sessionFactsOf } from "../audit/session-facts.js";
import type { AuditEvent, AuditReader } from "../store/store.js";

/**
 * The session facts (audit/session-facts.ts) a replay needs for operations whose policy input leaves them out.
 * Streaming: the `session_start` events read on the way are kept until their `session_end`, so a window read
 * from its beginning costs no lookup; a session that started before the window (or was forgotten) is looked up
 * once by id through the reader (one indexed read), found or not. Bounded: past `limit` sessions the oldest is
 * dropped and, if needed again, looked up again.
 */
export class SessionFactsLookup {
  private readonly known = new Map<string, SessionFacts | undefined>();

  constructor(
    private readonly reader: Pick<AuditReader, "events">,
    private readonly limit = 100_000,
  ) {}

  /** Every event read, in order: keeps session starts, drops what ended. */
  note(event: AuditEvent): void {
    const sessionId = event.sessionId;
    if (sessionId === null) return;
    if (event.kind === "session_start") this.remember(sessionId, sessionFactsOf(event.data));
    else if (event.kind === "session_end") this.known.delete(sessionId);
  }

  /** The facts its session_start recorded; undefined when there is no such (readable) event. */
  async factsOf(sessionId: string | null): Promise<SessionFacts | undefined> {
    if (sessionId === null) return undefined;
    if (this.known.has(sessionId)) return this.known.get(sessionId);
    const [start] = await this.reader.events({ sessionId, kind: "session_start", limit: 1 });
    const facts = start === undefined ? undefined : sessionFactsOf(start.data);
    this.remember(sessionId, facts);
    return facts;
  }

  private remember(sessionId: string, facts: SessionFacts | undefined): void {
    if (this.known.size >= this.limit && !this.known.has(sessionId)) {
      const oldest = this.known.keys().next();
      if (!oldest.done) this.known.delete(oldest.value);
    }
    this.known.set(sessionId, facts);
  }
}
