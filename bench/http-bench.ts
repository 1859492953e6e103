/**
 * HTTP section of the benchmark (issue 13): a small JSON GET, direct to the upstream vs through nginx
 * (`proxy_pass`, Debian's package, TLS with the same certificate) vs through Latch (compiled `latch serve`,
 * TLS, policy, audit, injection), without and with masking, in one run. Requests/s and p50/p99 latency, and the
 * latency each proxy adds over direct. Standalone: `node --import tsx bench/http-bench.ts` (after
 * `npm run build`); `measureHttp()` returns the rows for bench/run.ts.
 * BENCH_HTTP_SECONDS (default 5) per target and round, BENCH_HTTP_CONCURRENCY (default 8) requests in flight,
 * BENCH_HTTP_ROUNDS (default 3; 1 with `--quick`) rounds, each measuring every target in turn: a row is the
 * median of its rounds and the ratio to nginx the median of the rounds' ratios, so one round in which a
 * process lost the scheduler's favour (a full run once read nginx at 3x its usual CPU per request) does not
 * decide the goal.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Agent, request } from "undici";
import { mintDevToken } from "../src/identity/dev-issuer.js";
import { freePort } from "../test/support/free-port.js";
import { writeBenchCert } from "./bench-cert.js";
import { percentile } from "./connect-latency.js";
import { median } from "./median.js";
import { treeCpuSeconds } from "./proc-cpu.js";
import { type ServiceProcess, spawnService, waitForPort } from "./service-process.js";
import { LATCH_CLI } from "./start-latch.js";

const execFileAsync = promisify(execFile);

/** node:https + undici and nothing else (the floor any Node.js gateway starts from), run beside nginx. */
const NODE_FLOOR = fileURLToPath(new URL("./node-floor.mjs", import.meta.url));

export interface HttpBenchRow {
  /** node-proxy: node:https + undici with no checks (bench/node-floor.mjs), the floor any Node.js gateway starts from. */
  readonly target: "direct" | "nginx" | "node-proxy" | "latch" | "latch+masking";
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** p50/p99 over direct's: what the proxy adds. 0 for direct. */
  readonly addedP50Ms: number;
  readonly addedP99Ms: number;
  readonly errors: number;
  /** CPU time the proxy process used per request (utime+stime from /proc over the run); null for direct. */
  readonly cpuUsPerRequest: number | null;
  /**
   * Median over the rounds of this row's added p50 ÷ nginx's in the same round; null for direct and nginx.
   * Absent in results written before the rounds (their ratio is the one run's).
   */
  readonly addedP50VsNginx?: number | null;
  /** How many rounds the medians are over (absent: one). */
  readonly rounds?: number;
}

export const UPSTREAM_SCRIPT = `
const http = require("node:http");
const body = Buffer.from(JSON.stringify({ id: 42, name: "Ada", email: "ada@example.com", plan: "pro", active: true }));
http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
  res.end(body);
}).listen(Number(process.argv[1]), "127.0.0.1");
`;

function positive(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/** Closed-loop load: `concurrency` workers each sending the next request as soon as the previous answered. */
async function load(
  url: string,
  headers: Record<string, string>,
  dispatcher: Agent,
  seconds: number,
  concurrency: number,
): Promise<{ rps: number; latencies: number[]; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < until) {
      const started = performance.now();
      try {
        const answer = await request(url, { dispatcher, headers });
        await answer.body.arrayBuffer();
        if (answer.statusCode !== 200) errors += 1;
        else latencies.push(performance.now() - started);
      } catch {
        errors += 1;
      }
    }
  };
  const began = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - began) / 1000;
  latencies.sort((a, b) => a - b);
  return { rps: latencies.length / elapsed, latencies, errors };
}

async function startNginx(
  dir: string,
  port: number,
  upstreamPort: number,
  cert: string,
  key: string,
): Promise<ServiceProcess> {
  const conf = join(dir, "nginx.conf");
  await mkdir(join(dir, "nginx-tmp"), { recursive: true });
  const tmp = join(dir, "nginx-tmp");
  await writeFile(
    conf,
    `worker_processes 1;
daemon off;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "nginx-error.log")} warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${tmp}; proxy_temp_path ${tmp}; fastcgi_temp_path ${tmp}; uwsgi_temp_path ${tmp}; scgi_temp_path ${tmp};
  upstream api { server 127.0.0.1:${upstreamPort}; keepalive 32; }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    location / { proxy_pass http://api; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`,
  );
  const nginx = spawnService("/usr/sbin/nginx", ["-c", conf, "-p", dir]);
  await waitForPort(port, nginx, 10_000);
  return nginx;
}

export async function startLatchHttp(
  dir: string,
  port: number,
  upstreamPort: number,
  cert: string,
  key: string,
) {
  if (!existsSync(LATCH_CLI)) throw new Error(`${LATCH_CLI} is missing: run \`npm run build\` first`);
  const dataDir = join(dir, "latch-data");
  const policies = join(dir, "policies");
  await mkdir(policies, { recursive: true });
  await writeFile(
    join(policies, "bench.cedar"),
    'permit(principal in Group::"bench", action in Action::"http:read", resource);\n',
  );
  const config = join(dir, "latch.yaml");
  const upstream = `http://127.0.0.1:${upstreamPort}`;
  await writeFile(
    config,
    [
      `listen: { http: "127.0.0.1:${port}", admin: "127.0.0.1:${await freePort()}" }`,
      `data_dir: ${JSON.stringify(dataDir)}`,
      `tls: { cert_file: ${JSON.stringify(cert)}, key_file: ${JSON.stringify(key)} }`,
      "identity: { dev_issuer: true }",
      `policies: ${JSON.stringify(policies)}`,
      "masking: { pii: { detectors: [email, credit_card, us_ssn] } }",
      "connections:",
      `  api: { type: http, upstream: ${JSON.stringify(upstream)}, inject: { bearer: { env: BENCH_HTTP_SECRET } } }`,
      `  masked: { type: http, upstream: ${JSON.stringify(upstream)}, masking: [pii], inject: { bearer: { env: BENCH_HTTP_SECRET } } }`,
      `log_level: ${process.env.BENCH_LATCH_LOG_LEVEL ?? "warn"}`,
      "",
    ].join("\n"),
  );
  // BENCH_LATCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof": profile the gateway under this load.
  const nodeArgs = (process.env.BENCH_LATCH_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
  const service = spawnService(process.execPath, [...nodeArgs, LATCH_CLI, "serve", "--config", config], {
    env: { ...process.env, BENCH_HTTP_SECRET: "bench-upstream-secret" },
  });
  await waitForPort(port, service, 20_000);
  const token = await mintDevToken(dataDir, { subject: "bench", groups: ["bench"], ttlSeconds: 7200 });
  return { service, token };
}

/** Runs the whole HTTP comparison once and returns its rows (direct first). */
export async function measureHttp(
  options: { seconds?: number; concurrency?: number; rounds?: number; log?: (line: string) => void } = {},
): Promise<HttpBenchRow[]> {
  // The variable wins over the caller's default (`--quick` asks for 2 s): a longer quick run when it is set.
  const seconds =
    process.env.BENCH_HTTP_SECONDS === undefined ? (options.seconds ?? 5) : positive("BENCH_HTTP_SECONDS", 5);
  const concurrency = options.concurrency ?? positive("BENCH_HTTP_CONCURRENCY", 8);
  const rounds = Math.round(
    process.env.BENCH_HTTP_ROUNDS === undefined ? (options.rounds ?? 3) : positive("BENCH_HTTP_ROUNDS", 3),
  );
  const log = options.log ?? (() => undefined);
  const dir = await mkdtemp(join(tmpdir(), "latch-http-bench-"));
  const services: ServiceProcess[] = [];
  const agents: Agent[] = [];
  try {
    const { cert, key, certPem } = await writeBenchCert(dir);
    const [upstreamPort, nginxPort, latchPort, floorPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const upstream = spawnService(process.execPath, ["-e", UPSTREAM_SCRIPT, String(upstreamPort)]);
    services.push(upstream);
    await waitForPort(upstreamPort, upstream, 10_000);
    services.push(await startNginx(dir, nginxPort, upstreamPort, cert, key));
    const floor = spawnService(process.execPath, [
      NODE_FLOOR,
      "http",
      String(floorPort),
      String(upstreamPort),
      cert,
      key,
    ]);
    services.push(floor);
    await waitForPort(floorPort, floor, 10_000);
    const latch = await startLatchHttp(dir, latchPort, upstreamPort, cert, key);
    services.push(latch.service);
    const agent = () => {
      const made = new Agent({ connections: concurrency, connect: { ca: certPem } });
      agents.push(made);
      return made;
    };
    const auth = { authorization: `Bearer ${latch.token}` };
    const nginxPid = services[1]!.child.pid;
    const latchPid = latch.service.child.pid;
    const targets = [
      { target: "direct", url: `http://127.0.0.1:${upstreamPort}/v1/item`, headers: {}, pid: undefined },
      { target: "nginx", url: `https://127.0.0.1:${nginxPort}/v1/item`, headers: {}, pid: nginxPid },
      {
        target: "node-proxy",
        url: `https://127.0.0.1:${floorPort}/v1/item`,
        headers: {},
        pid: floor.child.pid,
      },
      { target: "latch", url: `https://127.0.0.1:${latchPort}/api/v1/item`, headers: auth, pid: latchPid },
      {
        target: "latch+masking",
        url: `https://127.0.0.1:${latchPort}/masked/v1/item`,
        headers: auth,
        pid: latchPid,
      },
    ] as const;
    // Every target is warmed before any is measured: the two Latch rows share one freshly started gateway,
    // and a warm-up of its own per row let the first row (`latch`) pay the process's JIT and first sessions
    // while the second rode on them (it read ~30% to 2x cheaper CPU per request for that reason alone). A
    // fresh Node process also needs longer than 0.5 s of load before its request path is optimised.
    const dispatchers = targets.map(() => agent());
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      const warmSeconds = t.target.startsWith("latch") ? LATCH_WARM_SECONDS : 0.5;
      await load(t.url, t.headers, dispatchers[i]!, warmSeconds, concurrency); // connections, JIT, caches
    }
    // Rounds interleave the targets, so a load swing lands on every target alike.
    const measured = targets.map(() => [] as RoundResult[]);
    for (let round = 1; round <= rounds; round++) {
      for (let i = 0; i < targets.length; i++) {
        const t = targets[i]!;
        const dispatcher = dispatchers[i]!;
        await load(t.url, t.headers, dispatcher, 0.25, concurrency); // the connections awake again
        const cpuBefore = t.pid === undefined ? 0 : treeCpuSeconds(t.pid);
        const run = await load(t.url, t.headers, dispatcher, seconds, concurrency);
        const cpuSeconds = t.pid === undefined ? undefined : treeCpuSeconds(t.pid) - cpuBefore;
        const result: RoundResult = {
          cpuUs:
            cpuSeconds === undefined ? undefined : (cpuSeconds * 1e6) / Math.max(1, run.latencies.length),
          rps: run.rps,
          p50: percentile(run.latencies, 0.5),
          p99: percentile(run.latencies, 0.99),
          errors: run.errors,
        };
        const label = rounds > 1 ? `round ${round}/${rounds} ` : "";
        const cpu = result.cpuUs === undefined ? "" : `, ${result.cpuUs.toFixed(0)} CPU us/request`;
        log(
          `${label}${t.target}: ${result.rps.toFixed(0)} req/s, p50 ${result.p50.toFixed(3)} ms, p99 ${result.p99.toFixed(3)} ms, errors ${result.errors}${cpu}`,
        );
        measured[i]!.push(result);
      }
    }
    return httpRows(
      targets.map((t) => t.target),
      measured,
    );
  } finally {
    for (const made of agents) await made.close().catch(() => undefined);
    for (const service of services.reverse()) await service.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** One target's figures in one round. */
interface RoundResult {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly cpuUs: number | undefined;
}

/**
 * The rows from every round's results (targets in order, direct first, nginx second): each figure the median
 * of its rounds, errors summed, the added latency over the same round's direct, and the ratio to nginx the
 * median of the rounds' own ratios (a round where nginx added nothing has no ratio).
 */
export function httpRows(
  targets: readonly HttpBenchRow["target"][],
  measured: readonly (readonly RoundResult[])[],
): HttpBenchRow[] {
  const direct = measured[targets.indexOf("direct")] ?? [];
  const nginx = measured[targets.indexOf("nginx")] ?? [];
  const added = (results: readonly RoundResult[], pick: (r: RoundResult) => number) =>
    results.map((r, round) => pick(r) - (direct[round] === undefined ? 0 : pick(direct[round]!)));
  return targets.map((target, i) => {
    const results = measured[i]!;
    const isDirect = target === "direct";
    const addedP50 = added(results, (r) => r.p50);
    const nginxAdded = added(nginx, (r) => r.p50);
    const ratios = addedP50.flatMap((value, round) =>
      nginxAdded[round] !== undefined && nginxAdded[round]! > 0 ? [value / nginxAdded[round]!] : [],
    );
    const cpu = results.flatMap((r) => (r.cpuUs === undefined ? [] : [r.cpuUs]));
    return {
      target,
      requestsPerSecond: Math.round(median(results.map((r) => r.rps))),
      p50Ms: round(median(results.map((r) => r.p50))),
      p99Ms: round(median(results.map((r) => r.p99))),
      addedP50Ms: isDirect ? 0 : round(median(addedP50)),
      addedP99Ms: isDirect ? 0 : round(median(added(results, (r) => r.p99))),
      errors: results.reduce((sum, r) => sum + r.errors, 0),
      cpuUsPerRequest: cpu.length === 0 ? null : Math.round(median(cpu)),
      addedP50VsNginx:
        isDirect || target === "nginx" || ratios.length === 0 ? null : Math.round(median(ratios) * 100) / 100,
      rounds: results.length,
    };
  });
}

/** Warm-up of each Latch row, both before either is measured (see measureHttp). */
const LATCH_WARM_SECONDS = 2;

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** Markdown table of the rows, with each proxy's added p50 as a multiple of nginx's. */
export function formatHttpTable(rows: readonly HttpBenchRow[]): string {
  const lines = [
    "| target | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | added p50 vs nginx | CPU µs/request | errors |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    const vsNginx = r.addedP50VsNginx == null ? "-" : `${r.addedP50VsNginx.toFixed(2)}x`;
    lines.push(
      `| ${r.target} | ${r.requestsPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.addedP50Ms} | ${r.addedP99Ms} | ${vsNginx} | ${r.cpuUsPerRequest ?? "-"} | ${r.errors} |`,
    );
  }
  return lines.join("\n");
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await execFileAsync("/usr/sbin/nginx", ["-v"]).catch(() => {
    console.error("nginx is missing: apt-get install nginx");
    process.exit(1);
  });
  const rows = await measureHttp({ log: (line) => console.log(`[http-bench] ${line}`) });
  console.log(formatHttpTable(rows));
}
