import type { AuditExportCursors } from "./audit-export-cursors.js";
import { guardSideStore, openSqliteSideConnection } from "./sqlite-side-connection.js";

export interface SqliteAuditExportCursors extends AuditExportCursors {
  close(): void;
}

/** Export cursors in the gateway's SQLite file, through a connection of their own (like approvals). */
export function createSqliteExportCursors(file: string): SqliteAuditExportCursors {
  const db = openSqliteSideConnection(file, "audit export cursors");
  const select = db.prepare("SELECT seq FROM audit_export_cursors WHERE sink = ?").pluck();
  const upsert = db.prepare(
    "INSERT INTO audit_export_cursors (sink, seq, updated_at) VALUES (?, ?, ?) ON CONFLICT (sink) DO UPDATE SET seq = max(seq, excluded.seq), updated_at = excluded.updated_at",
  );
  const all = db.prepare("SELECT sink, seq FROM audit_export_cursors");
  return guardSideStore<SqliteAuditExportCursors>(file, {
    get: async (sink) => (select.get(sink) as number | undefined) ?? 0,
    set: async (sink, seq) => void upsert.run(sink, seq, Date.now()),
    all: async () =>
      new Map((all.all() as { sink: string; seq: number }[]).map((row) => [row.sink, row.seq])),
    close: () => db.close(),
  });
}
