/**
 * `node --import tsx bench/mcp-bench.ts`: `sql_query` (SELECT by primary key) through Latch's MCP endpoint vs
 * the same query through Latch's PostgreSQL listener vs PostgreSQL directly, in one run against one throwaway
 * PostgreSQL 15 cluster with SCRAM. One client, calls one after the other, so the latency is per call; the
 * gateway runs in this process (the MCP endpoint on a node:http server of its own until the HTTP listener
 * lands), so client and gateway share one event loop on every path alike. MCP_BENCH_CALLS sets the count.
 */
import { fileURLToPath } from "node:url";
import pg from "pg";
import { serveMcpEndpoint } from "../test/support/mcp-endpoint.js";
import { startOidcProvider } from "../test/support/oidc-provider.js";
import { startPgCluster } from "../test/support/pg-cluster.js";
import { startTestGateway } from "../test/support/test-gateway.js";
import { percentile } from "./connect-latency.js";

export interface McpBenchRow {
  readonly path: "direct" | "latch-postgres" | "latch-mcp";
  readonly calls: number;
  readonly callsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** p50 minus the direct p50: what the path adds. */
  readonly addedP50Ms: number;
  /**
   * CPU time of this process (client and in-process gateway alike) per call, in microseconds: far steadier
   * than wall time on a loaded machine, and what a cut in the gateway's per-request work shows up in.
   */
  readonly cpuUsPerCall: number;
}

const POLICY = `permit(principal in Group::"bench", action in Action::"sql:read", resource in Connection::"app");`;

async function measure(calls: number, once: (i: number) => Promise<void>) {
  for (let i = 0; i < Math.min(100, calls); i++) await once(i); // warm-up: caches, JIT, connections
  const times: number[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await once(i);
    times.push(performance.now() - t);
  }
  const elapsed = performance.now() - started;
  const used = process.cpuUsage(cpu);
  times.sort((a, b) => a - b);
  return {
    cpuUsPerCall: (used.user + used.system) / calls,
    callsPerSecond: (calls / elapsed) * 1000,
    p50Ms: percentile(times, 0.5),
    p99Ms: percentile(times, 0.99),
  };
}

export async function runMcpBench(calls = 1000): Promise<McpBenchRow[]> {
  const cluster = await startPgCluster({ auth: "scram-sha-256" });
  const oidc = await startOidcProvider();
  const direct = new pg.Client({
    host: "127.0.0.1",
    port: cluster.port,
    user: cluster.appUser,
    password: cluster.appPassword,
    database: cluster.appDatabase,
  });
  await direct.connect();
  await direct.query("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)");
  await direct.query("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 10000) g");
  const gw = await startTestGateway(cluster, {
    policy: POLICY,
    overrides: {
      listen: { postgres: "127.0.0.1:0", admin: "127.0.0.1:0", http: "127.0.0.1:0" },
      identity: { dev_issuer: true, issuers: [{ issuer: oidc.issuer, audience: "latch" }] },
    },
  });
  const mcp = await serveMcpEndpoint(gw.gateway);
  try {
    const token = await gw.token("bench-agent", ["bench"], 3600);
    const viaLatch = await gw.connect(token);
    const agent = await mcp.connect(await oidc.mintToken("bench-agent", ["bench"]));
    const sql = "SELECT id, name FROM items WHERE id = $1";
    const key = (i: number) => String((i % 10000) + 1);
    const results = {
      direct: await measure(calls, async (i) => void (await direct.query(sql, [key(i)]))),
      "latch-postgres": await measure(calls, async (i) => void (await viaLatch.query(sql, [key(i)]))),
      "latch-mcp": await measure(calls, async (i) => {
        const answer = await agent.callTool({
          name: "sql_query",
          arguments: { connection: "app", sql, params: [key(i)] },
        });
        if (answer.isError) throw new Error(`sql_query failed: ${JSON.stringify(answer.content)}`);
      }),
    };
    await viaLatch.end();
    const base = results.direct.p50Ms;
    return (Object.keys(results) as McpBenchRow["path"][]).map((path) => ({
      path,
      calls,
      callsPerSecond: Math.round(results[path].callsPerSecond),
      p50Ms: round(results[path].p50Ms),
      p99Ms: round(results[path].p99Ms),
      addedP50Ms: round(results[path].p50Ms - base),
      cpuUsPerCall: Math.round(results[path].cpuUsPerCall),
    }));
  } finally {
    await mcp.close();
    await gw.stop();
    await direct.end();
    await oidc.close();
    await cluster.stop();
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const raw = process.env.MCP_BENCH_CALLS;
  const calls = raw === undefined || raw === "" ? 1000 : Number(raw);
  if (!Number.isInteger(calls) || calls <= 0) {
    console.error(`MCP_BENCH_CALLS must be a positive integer, got ${JSON.stringify(raw)}`);
    process.exit(1);
  }
  const rows = await runMcpBench(calls);
  console.table(rows);
  process.exit(0);
}
