import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { createSqliteLiveSessionStore } from "../src/store/sqlite-live-sessions.js";
import { createSqliteStore } from "../src/store/sqlite-store.js";

/**
 * Issue 12: what one heartbeat of the SQLite live-session store costs with many live sessions, counted
 * deterministically: statements the store runs from JS (better-sqlite3's Statement methods, counted by wrapping
 * them here, BEGIN and COMMIT included) and session rows the UPDATEs rewrite (a trigger in the benchmark's own file). CPU time per beat
 * is printed too, from a second run without the trigger, but it is noise on a shared machine.
 *
 *   node --import tsx bench/live-session-heartbeat.ts [sessions=1000]
 *
 * Each beat reports every session's last activity (as the session registry does); "changed" is how many of
 * them had traffic since the previous beat.
 */
const SESSIONS = Number(process.argv[2] ?? 1000);
const BEATS = 20;
const T0 = Date.parse("2026-12-01T12:00:00.000Z");

let statements = 0;
countStatements();

const counts = await measure(true);
const times = await measure(false);
console.log(
  `${SESSIONS} live sessions, every one reported in each beat (the last of ${BEATS} beats counted):`,
);
console.table(
  counts.map(({ cpuMs: _, ...row }, i) => ({
    ...row,
    "CPU ms per beat (median, noisy)": times[i]?.cpuMs ?? Number.NaN,
  })),
);

async function measure(withTrigger: boolean) {
  const dir = mkdtempSync(path.join(tmpdir(), "latch-heartbeat-bench-"));
  try {
    const file = path.join(dir, "latch.db");
    createSqliteStore(file).close(); // migrated
    const probe = new Database(file);
    if (withTrigger)
      probe.exec(`CREATE TABLE bench_rewrites (n INTEGER NOT NULL);
    INSERT INTO bench_rewrites VALUES (0);
    CREATE TRIGGER bench_count AFTER UPDATE ON live_sessions BEGIN UPDATE bench_rewrites SET n = n + 1; END;`);
    const rewrites = () =>
      !withTrigger ? 0 : (probe.prepare("SELECT n FROM bench_rewrites").pluck().get() as number);

    const store = createSqliteLiveSessionStore(file);
    const activity = new Map<string, number>();
    for (let i = 0; i < SESSIONS; i++) {
      const id = `s${String(i).padStart(5, "0")}`;
      await store.add({
        id,
        gatewayId: "gw-a",
        protocol: "postgres",
        connection: "app",
        subject: "agent-1",
        groups: ["agents"],
        clientAddress: "127.0.0.1:5000",
        startedAt: new Date(T0).toISOString(),
      });
      activity.set(id, T0);
    }

    let at = T0;
    const rows: { changed: number; statements: number; rewrites: number; cpuMs: number }[] = [];
    for (const changed of [SESSIONS, Math.ceil(SESSIONS / 100), 0]) {
      const cpu: number[] = [];
      let counted = { statements: 0, rewrites: 0 };
      for (let beat = 0; beat < BEATS; beat++) {
        at += 5_000;
        let k = 0;
        for (const id of activity.keys()) {
          if (k++ >= changed) break;
          activity.set(id, at - 1);
        }
        const rewritesBefore = rewrites(); // the probe's own statement, before the count starts
        const before = { statements, rewrites: rewritesBefore };
        const started = process.cpuUsage();
        await store.heartbeat("gw-a", at, activity);
        const used = process.cpuUsage(started);
        cpu.push((used.user + used.system) / 1000);
        counted = {
          statements: statements - before.statements,
          rewrites: rewrites() - before.rewrites,
        };
      }
      cpu.sort((a, b) => a - b);
      rows.push({
        changed,
        statements: counted.statements,
        rewrites: counted.rewrites,
        cpuMs: Number(cpu[Math.floor(cpu.length / 2)]?.toFixed(2)),
      });
    }
    store.close();
    probe.close();
    return rows.map((row) => ({
      "changed since last beat": row.changed,
      "statements per beat": row.statements,
      "session rows rewritten": withTrigger ? row.rewrites : Number.NaN,
      cpuMs: row.cpuMs,
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Counts every run/get/all/iterate of any better-sqlite3 statement in this process (the probe's are subtracted). */
function countStatements(): void {
  const scratch = new Database(":memory:");
  const proto = Object.getPrototypeOf(scratch.prepare("SELECT 1")) as Record<string, unknown>;
  scratch.close();
  for (const name of ["run", "get", "all", "iterate"]) {
    const original = proto[name] as (...args: unknown[]) => unknown;
    proto[name] = function (this: unknown, ...args: unknown[]) {
      statements++;
      return original.apply(this, args);
    };
  }
}
