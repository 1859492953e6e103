import type { SessionSummary } from "./store.js";

/** A row of audit_events as SQLite returns it. */
export interface EventRow {
  seq: number;
  ts: string;
  kind: string;
  session_id: string | null;
  data: string;
  prev_hash: string;
  hash: string;
}

/** A row of sessions as SQLite returns it. */
export interface SessionRow {
  id: string;
  protocol: string;
  connection: string;
  subject: string;
  groups: string;
  client_address: string;
  started_at: string;
  ended_at: string | null;
  end_reason: string | null;
  operations: number;
  denied: number;
}

export function toSessionSummary(row: SessionRow): SessionSummary {
  return {
    id: row.id,
    protocol: row.protocol,
    connection: row.connection,
    subject: row.subject,
    groups: JSON.parse(row.groups) as string[],
    clientAddress: row.client_address,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    endReason: row.end_reason,
    operations: row.operations,
    denied: row.denied,
  };
}
