/**
 * Issue 11: node-postgres (`pg`, what the PostgreSQL store uses) against porsager's `postgres` for exactly the
 * round trips the store makes, on a throwaway PostgreSQL cluster (SCRAM-SHA-256 over 127.0.0.1):
 *
 * - `latch_append` (pg-audit-sink.ts): one text and three text[] parameters, groups of 1 and 16 `operation`
 *   events with canonical-JSON bodies, one caller (as the batcher does) and 4 concurrent callers;
 * - `isBlocked` (pg-principal-blocks.ts): one primary-key lookup on latch_principal_blocks, half hits;
 *
 * each as ops/s, p50/p99 latency and this process's CPU time per operation (process.cpuUsage(): the Node side
 * only, PostgreSQL runs in its own processes). Pool size 4 for every driver. Variants: `pg` unnamed (Parse on
 * every call, what the store does today), `pg` named (`{ name, text, values }`: Parse once per connection),
 * `postgres` with its default prepared statements. Each measurement runs BENCH_DRIVER_RUNS times, variants
 * interleaved and rotated so drift hits all alike; the table shows medians.
 *
 *   npx tsx bench/store-driver.ts
 *
 * `postgres` is not a dependency of Latch: install it in a scratch directory
 * (`mkdir -p /tmp/pgdriver && cd /tmp/pgdriver && npm init -y && npm install postgres`) and point
 * LATCH_POSTGRES_JS at its src/index.js (that path is the default). Without it only `pg` is measured.
 */
import { existsSync, readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { canonicalJson } from "../src/audit/canonical-json.js";
import { migratePgStore } from "../src/store/postgres/pg-migrations.js";
import { type PgCluster, startPgCluster } from "../test/support/pg-cluster.js";
import { median } from "./median.js";

const POSTGRES_JS = process.env.LATCH_POSTGRES_JS ?? "/tmp/pgdriver/node_modules/postgres/src/index.js";
const SECONDS = positive("BENCH_DRIVER_SECONDS", 3);
const RUNS = positive("BENCH_DRIVER_RUNS", 3);
const WARMUP_SECONDS = 0.5;
const POOL_SIZE = 4;
/** Bounds every measurement loop whatever the duration says. */
const MAX_OPS_PER_MEASUREMENT = 2_000_000;
const DATABASE = "latch_driver_bench";
const APPEND_SQL = "SELECT head_seq, head_hash FROM latch_append($1, $2, $3, $4)";
const IS_BLOCKED_SQL = "SELECT 1 FROM latch_principal_blocks WHERE principal = $1";
const SESSIONS = 16;
const BLOCKED = 1000;

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${raw}`);
  return value;
}

/** One group as the sink sends it: kinds, session ids and canonical-JSON bodies (serialised ahead, the same for every driver). */
interface Group {
  readonly kinds: string[];
  readonly sessionIds: (string | null)[];
  readonly data: string[];
}

/** What every driver variant does, shaped like the store's calls. */
interface Driver {
  readonly name: string;
  append(ts: string, group: Group): Promise<number>;
  isBlocked(principal: string): Promise<boolean>;
  close(): Promise<void>;
}

/** The part of porsager/postgres this benchmark uses (it is not a dependency, so no types from it). */
type PostgresJsResult = ReadonlyArray<Record<string, unknown>> & { readonly count: number };
interface PostgresJsSql {
  (strings: TemplateStringsArray, ...values: unknown[]): Promise<PostgresJsResult>;
  end(options?: { timeout?: number }): Promise<void>;
}
type PostgresJs = (options: Record<string, unknown>) => PostgresJsSql;

interface Connection {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

function pgPool(connection: Connection): pg.Pool {
  // As createPgStorePool (src/store/postgres/pg-store-config.ts) makes it, with the benchmark's pool size.
  const pool = new pg.Pool({
    ...connection,
    ssl: false,
    max: POOL_SIZE,
    application_name: "latch",
    connectionTimeoutMillis: 5000,
    statement_timeout: 10_000,
  });
  pool.on("error", () => undefined);
  return pool;
}

function pgDriver(connection: Connection, named: boolean): Driver {
  const pool = pgPool(connection);
  return {
    name: named ? "pg named" : "pg unnamed",
    async append(ts, group) {
      const values = [ts, group.kinds, group.sessionIds, group.data];
      const result = await pool.query<{ head_seq: string; head_hash: string }>(
        named ? { name: "latch_append", text: APPEND_SQL, values } : { text: APPEND_SQL, values },
      );
      return Number(result.rows[0]!.head_seq);
    },
    async isBlocked(principal) {
      const result = await pool.query(
        named
          ? { name: "latch_is_blocked", text: IS_BLOCKED_SQL, values: [principal] }
          : { text: IS_BLOCKED_SQL, values: [principal] },
      );
      return result.rowCount === 1;
    },
    close: () => pool.end(),
  };
}

function postgresJsDriver(postgres: PostgresJs, connection: Connection): Driver {
  const sql = postgres({
    ...connection,
    max: POOL_SIZE,
    ssl: false,
    connect_timeout: 5,
    connection: { application_name: "latch", statement_timeout: 10_000 },
    onnotice: () => undefined,
  });
  return {
    name: "postgres",
    async append(ts, group) {
      const rows =
        await sql`SELECT head_seq, head_hash FROM latch_append(${ts}, ${group.kinds}, ${group.sessionIds}, ${group.data})`;
      return Number(rows[0]!.head_seq);
    },
    async isBlocked(principal) {
      const rows = await sql`SELECT 1 FROM latch_principal_blocks WHERE principal = ${principal}`;
      return rows.count === 1;
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

function sessionId(i: number): string {
  return `ses_bench_${String(i).padStart(4, "0")}`;
}

function principal(i: number): string {
  return `agent-${String(i).padStart(5, "0")}@bench.example`;
}

/** Realistic `operation` bodies (src/audit/event-data.ts), each with its own operation id. */
function makeGroups(size: number, count: number, seed: number): Group[] {
  const statements = [
    {
      text: "SELECT id, email, plan FROM public.customers WHERE id = $1",
      verb: "select",
      tables: ["public.customers"],
    },
    {
      text: "UPDATE public.orders SET status = 'shipped', shipped_at = now() WHERE id = $1 AND status = 'paid'",
      verb: "update",
      tables: ["public.orders"],
    },
    {
      text: "SELECT o.id, o.total, c.email FROM public.orders o JOIN public.customers c ON c.id = o.customer_id WHERE o.created_at > $1 ORDER BY o.created_at DESC LIMIT 50",
      verb: "select",
      tables: ["public.orders", "public.customers"],
    },
  ];
  const groups: Group[] = [];
  for (let g = 0; g < count; g++) {
    const group: Group = { kinds: [], sessionIds: [], data: [] };
    for (let e = 0; e < size; e++) {
      const n = seed * 1_000_000 + g * size + e;
      const statement = statements[n % statements.length]!;
      const denied = n % 10 === 9;
      group.kinds.push("operation");
      group.sessionIds.push(sessionId(n % SESSIONS));
      group.data.push(
        canonicalJson({
          operationId: `op_${n.toString(36).padStart(8, "0")}${"x".repeat(14)}`,
          mode: n % 3 === 0 ? "extended" : "simple",
          statements: [statement],
          verdict: denied
            ? {
                decision: "deny",
                rules: ["deny-writes-outside-window"],
                reason: "forbidden by deny-writes-outside-window",
              }
            : {
                decision: "allow",
                rules: ["agents-read", "agents-ship-orders"],
                reason: "permitted by agents-read",
              },
        }),
      );
    }
    groups.push(group);
  }
  return groups;
}

interface Sample {
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuMicrosPerOp: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** `callers` loops, each one operation in flight, until `seconds` have passed. */
async function measure(callers: number, seconds: number, op: (n: number) => Promise<void>): Promise<Sample> {
  const latencies: number[] = [];
  let next = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const loop = async () => {
    while (performance.now() < deadline && next < MAX_OPS_PER_MEASUREMENT) {
      const n = next++;
      const t0 = performance.now();
      await op(n);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: callers }, loop));
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const sorted = Float64Array.from(latencies).sort();
  return {
    opsPerSecond: (latencies.length * 1000) / elapsedMs,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    cpuMicrosPerOp: (cpu.user + cpu.system) / latencies.length,
  };
}

interface Scenario {
  readonly name: string;
  readonly callers: number;
  readonly run: (driver: Driver) => (n: number) => Promise<void>;
}

function scenarios(): Scenario[] {
  const ts = () => new Date().toISOString();
  const append = (size: number, seed: number) => {
    const groups = makeGroups(size, 256, seed);
    return (driver: Driver) => async (n: number) => {
      const seq = await driver.append(ts(), groups[n % groups.length]!);
      if (!(seq > 0)) throw new Error(`${driver.name}: latch_append returned head_seq ${seq}`);
    };
  };
  const isBlocked = (driver: Driver) => async (n: number) => {
    // Even n: a blocked principal (a hit); odd n: one that is not (no row).
    const blocked = await driver.isBlocked(
      n % 2 === 0 ? principal(n % BLOCKED) : principal(BLOCKED + (n % 5000)),
    );
    if (blocked !== (n % 2 === 0))
      throw new Error(`${driver.name}: isBlocked answered ${blocked} for op ${n}`);
  };
  return [
    { name: "append x1", callers: 1, run: append(1, 1) },
    { name: "append x1", callers: 4, run: append(1, 2) },
    { name: "append x16", callers: 1, run: append(16, 3) },
    { name: "append x16", callers: 4, run: append(16, 4) },
    { name: "isBlocked", callers: 1, run: isBlocked },
    { name: "isBlocked", callers: 4, run: isBlocked },
  ];
}

async function loadPostgresJs(): Promise<{ postgres: PostgresJs; version: string } | undefined> {
  if (!existsSync(POSTGRES_JS)) return undefined;
  const module = (await import(pathToFileURL(POSTGRES_JS).href)) as { default: PostgresJs };
  let version = "?";
  for (let dir = dirname(POSTGRES_JS); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (!existsSync(manifest)) continue;
    const parsed = JSON.parse(readFileSync(manifest, "utf8")) as { name?: string; version?: string };
    if (parsed.name === "postgres") {
      version = parsed.version ?? "?";
      break;
    }
  }
  return { postgres: module.default, version };
}

async function prepareDatabase(cluster: PgCluster): Promise<Connection> {
  await cluster.query(`CREATE DATABASE ${DATABASE} OWNER ${cluster.appUser} ENCODING 'UTF8'`);
  const connection: Connection = {
    host: cluster.host,
    port: cluster.port,
    user: cluster.appUser,
    password: cluster.appPassword,
    database: DATABASE,
  };
  const pool = pgPool(connection);
  try {
    await migratePgStore(pool);
    // Sessions the operation events count into (latch_append keeps latch_sessions), and principals to look up.
    const starts = Array.from({ length: SESSIONS }, (_, i) =>
      canonicalJson({
        protocol: "postgres",
        connection: "bench",
        subject: principal(i),
        groups: ["bench"],
        issuer: "https://issuer.bench.example",
        clientAddress: "127.0.0.1",
      }),
    );
    await pool.query(APPEND_SQL, [
      new Date().toISOString(),
      starts.map(() => "session_start"),
      starts.map((_, i) => sessionId(i)),
      starts,
    ]);
    await pool.query(
      `INSERT INTO latch_principal_blocks (principal, blocked_by, reason, blocked_at)
       SELECT 'agent-' || lpad(i::text, 5, '0') || '@bench.example', 'admin@bench.example', 'bench', 0
       FROM generate_series(0, $1::int - 1) AS i`,
      [BLOCKED],
    );
  } finally {
    await pool.end();
  }
  return connection;
}

function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}

async function main(): Promise<void> {
  const postgresJs = await loadPostgresJs();
  if (postgresJs === undefined) {
    console.log(`postgres not installed: see bench/README.md (looked for ${POSTGRES_JS}); measuring pg only`);
  }
  const cluster = await startPgCluster({ auth: "scram-sha-256", settings: { shared_buffers: "256MB" } });
  const drivers: Driver[] = [];
  try {
    const server = (await cluster.query("SHOW server_version")).rows[0] as { server_version: string };
    const connection = await prepareDatabase(cluster);
    drivers.push(pgDriver(connection, false), pgDriver(connection, true));
    if (postgresJs) drivers.push(postgresJsDriver(postgresJs.postgres, connection));
    const pgVersion = (
      JSON.parse(readFileSync(join(process.cwd(), "node_modules/pg/package.json"), "utf8")) as {
        version: string;
      }
    ).version;
    console.log(
      `node ${process.version}, ${cpus().length} CPUs, PostgreSQL ${server.server_version} (SCRAM, 127.0.0.1, fsync off), ` +
        `pg ${pgVersion}${postgresJs ? `, postgres ${postgresJs.version}` : ""}; pool ${POOL_SIZE}, ` +
        `${RUNS} runs x ${SECONDS} s per cell, medians`,
    );

    const loadBefore = loadavg()[0]!;
    const all = scenarios();
    const samples = new Map<string, Sample[]>();
    const key = (s: Scenario, d: Driver) => `${s.name}|${s.callers}|${d.name}`;
    for (const scenario of all) {
      for (const driver of drivers) await measure(scenario.callers, WARMUP_SECONDS, scenario.run(driver));
    }
    for (let run = 0; run < RUNS; run++) {
      for (const scenario of all) {
        // Rotate the order each run so no variant always goes first after a scenario change.
        const order = drivers.map((_, i) => drivers[(i + run) % drivers.length]!);
        for (const driver of order) {
          const sample = await measure(scenario.callers, SECONDS, scenario.run(driver));
          const list = samples.get(key(scenario, driver)) ?? [];
          list.push(sample);
          samples.set(key(scenario, driver), list);
        }
      }
      process.stderr.write(`run ${run + 1}/${RUNS} done\n`);
    }

    const rows: string[][] = [];
    for (const scenario of all) {
      const baseline = median(samples.get(key(scenario, drivers[0]!))!.map((s) => s.opsPerSecond));
      for (const driver of drivers) {
        const list = samples.get(key(scenario, driver))!;
        const ops = median(list.map((s) => s.opsPerSecond));
        const opsRange = list.map((s) => s.opsPerSecond);
        rows.push([
          `${scenario.name} c${scenario.callers}`,
          driver.name,
          ops.toFixed(0),
          `${Math.min(...opsRange).toFixed(0)}-${Math.max(...opsRange).toFixed(0)}`,
          `${(ops / baseline).toFixed(2)}x`,
          median(list.map((s) => s.p50Ms)).toFixed(3),
          median(list.map((s) => s.p99Ms)).toFixed(3),
          median(list.map((s) => s.cpuMicrosPerOp)).toFixed(1),
        ]);
      }
    }
    console.log(`\nload average (1 min): ${loadBefore.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after`);
    console.log("");
    console.log(
      formatTable(
        ["operation", "driver", "ops/s", "runs min-max", "÷ pg unnamed", "p50 ms", "p99 ms", "CPU µs/op"],
        rows,
      ),
    );
    console.log(
      "\nops/s: median over the runs of appends (groups) or lookups per second; x16 carries 16 events per append. c1: one caller, c4: 4 concurrent.\n" +
        "CPU µs/op: this Node process's user+system CPU per operation (PostgreSQL's own processes not counted).",
    );
  } finally {
    for (const driver of drivers) await driver.close().catch(() => undefined);
    await cluster.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
