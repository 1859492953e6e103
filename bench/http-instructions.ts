/**
 * Instructions per HTTP request through the gateway (issue 13), deterministic where wall-clock time is not: the
 * compiled gateway (`startGateway`: TLS front, sessions, Cedar, the audit journal and its index thread, injected
 * credential, masking) runs in this process under `valgrind --tool=callgrind`; the client (one keep-alive
 * undici connection, sequential small JSON GETs) and the upstream (bench/http-bench.ts' 87-byte JSON) are
 * child processes that valgrind does not follow, so only the gateway is counted. After a warm-up of
 * BENCH_HTTP_WARMUP (10,000) requests, the counted ones lie between two `os.loadavg()` calls, and callgrind,
 * run with --dump-before=uv_loadavg, counts them alone in its second dump.
 *
 *   node --import tsx bench/http-instructions.ts [plain|masked|floor|all] [requests=2000]
 *
 * prints instructions per request of the main thread (where the request path runs; BENCH_HTTP_THREADS=all:
 * every thread, the audit index thread included, which varies more with timing). `floor` is the same harness around bench/node-floor.mjs' `http` mode (node:https + undici,
 * no checks). BENCH_HTTP_CALLGRIND=0 runs without valgrind and prints wall-clock µs and heap bytes per request
 * instead (indicative only); BENCH_LATCH_DIST=<dist of another build> counts another commit.
 *
 * Under valgrind the gateway runs ~50x slower while the client does not, so timers would fire ~50 times as
 * often per request as they do natively (the audit batcher folds a request's result into the next request's
 * event when it comes within 10 ms, else writes it alone: twice the audit work), and a stall of a few seconds
 * (a JIT compilation, a full collection) would trip keep-alive timeouts. The inner run therefore stretches
 * `setTimeout` delays and socket timeouts and slows `performance.now` by BENCH_HTTP_CLOCK_SCALE (50 under
 * valgrind, 1 without), which keeps the gateway in its native timing regime; the upstream never times out.
 * BENCH_HTTP_HEAP_PROFILE=<file> writes a sampled allocation profile of the counted requests (no valgrind).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import { Socket } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { GCProfiler, getHeapStatistics } from "node:v8";
import { Pool } from "undici";
import { freePort } from "../test/support/free-port.js";
import { writeBenchCert } from "./bench-cert.js";
import { UPSTREAM_SCRIPT } from "./http-bench.js";

const TARGETS = ["plain", "masked", "floor"] as const;
type Target = (typeof TARGETS)[number];
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SELF = fileURLToPath(import.meta.url);

/** The fixed client: waits for `{ run: n }`, sends n GETs one after another, answers with the last body. */
const CLIENT_SCRIPT = `
const { Agent, request } = require("undici");
const [url, token, ca] = process.argv.slice(1);
const dispatcher = new Agent({ connections: 1, connect: { ca } });
const headers = { authorization: "Bearer " + token };
process.on("message", async ({ run }) => {
  let errors = 0;
  let last = "";
  for (let i = 0; i < run; i++) {
    try {
      const answer = await request(url, { dispatcher, headers });
      const text = await answer.body.text();
      if (answer.statusCode === 200) last = text;
      else {
        errors++;
        last = answer.statusCode + " " + text;
      }
    } catch (error) {
      errors++;
      last = String(error);
    }
  }
  process.send({ errors, last });
});
process.send({ ready: true });
`;

if (process.env.BENCH_HTTP_INNER === "1") await inner();
else await driver();

async function driver(): Promise<void> {
  const which = process.argv[2] ?? "all";
  const requests = process.argv[3] ?? "2000";
  const targets = which === "all" ? TARGETS : TARGETS.filter((t) => t === which);
  if (targets.length === 0) throw new Error(`unknown target ${which}: plain, masked, floor or all`);
  const env = { ...process.env, BENCH_HTTP_INNER: "1" };
  const node = [process.execPath, "--single-threaded", "--import", "tsx", SELF];
  for (const target of targets) {
    if (process.env.BENCH_HTTP_CALLGRIND === "0") {
      const run = spawnSync(node[0]!, [...node.slice(1), target, requests], { env, stdio: "inherit" });
      if (run.status !== 0) throw new Error(`${target}: the run failed`);
      continue;
    }
    const out = mkdtempSync(join(tmpdir(), "latch-http-cg-"));
    // Per thread, callgrind's dump before uv_loadavg splits only the thread that called it (the main one); the
    // other threads' parts are counted together with everything else only when threads are not separated.
    const threads = process.env.BENCH_HTTP_THREADS === "all" ? "all" : "main";
    try {
      const run = spawnSync(
        "valgrind",
        [
          "--tool=callgrind",
          "--dump-before=uv_loadavg",
          `--separate-threads=${threads === "main" ? "yes" : "no"}`,
          `--callgrind-out-file=${join(out, "cg.%p")}`,
          ...node,
          target,
          requests,
        ],
        { env: { ...env, BENCH_HTTP_CLOCK_SCALE: process.env.BENCH_HTTP_CLOCK_SCALE ?? "50" }, cwd: ROOT },
      );
      if (run.status !== 0)
        throw new Error(`${target}: valgrind failed\n${run.stderr.toString().slice(-4000)}`);
      process.stderr.write(run.stdout);
      // Dump 2 is the counted part: cg.<pid>.2, or cg.<pid>.2-01 for the main thread alone.
      const counted = readdirSync(out).find((file) => /^cg\.\d+\.2(-01)?$/.test(file));
      const summary = /^summary: (\d+)/m.exec(
        counted === undefined ? "" : readFileSync(join(out, counted), "utf8"),
      );
      if (summary === null) throw new Error(`${target}: no counted dump in ${readdirSync(out).join(", ")}`);
      const perRequest = Math.round(Number(summary[1]) / Number(requests));
      console.log(
        `${target}: ${perRequest} instructions per request (${threads === "main" ? "main thread" : "every thread"}), ${requests} requests`,
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
}

async function inner(): Promise<void> {
  const target = process.argv[2] as Target;
  if (!TARGETS.includes(target)) throw new Error(`unknown target ${target}`);
  const counted = Number(process.argv[3] ?? 2000);
  const warm = Number(process.env.BENCH_HTTP_WARMUP ?? 10_000);
  slowClock(Number(process.env.BENCH_HTTP_CLOCK_SCALE ?? 1));
  const dir = mkdtempSync(join(tmpdir(), "latch-http-instructions-"));
  const children: ChildProcess[] = [];
  let stop: () => Promise<void> = async () => undefined;
  try {
    const { cert, key, certPem, keyPem } = await writeBenchCert(dir);
    const upstreamPort = await freePort();
    // Kept alive however long the slowed gateway takes between two of its requests (a JIT compilation or a
    // full collection can take seconds under valgrind); the script's own default would close it after 5 s.
    const upstreamScript = `const h = require("node:http"); const create = h.createServer;
h.createServer = (...a) => Object.assign(create(...a), { keepAliveTimeout: 0 }); {${UPSTREAM_SCRIPT}}`;
    const upstream = spawn(process.execPath, ["-e", upstreamScript, String(upstreamPort)], {
      stdio: "ignore",
    });
    children.push(upstream);
    await waitForListener(upstreamPort);
    let port: number;
    let token = "none";
    if (target === "floor") {
      const floor = startFloor(upstreamPort, certPem, keyPem);
      port = await floor.listening;
      stop = floor.close;
    } else {
      const gateway = await startGatewayIn(dir, upstreamPort, cert, key);
      port = gateway.port;
      token = gateway.token;
      stop = gateway.stop;
    }
    const path = target === "masked" ? "/masked/v1/item" : "/api/v1/item";
    const client = spawn(
      process.execPath,
      ["-e", CLIENT_SCRIPT, `https://127.0.0.1:${port}${path}`, token, certPem],
      {
        cwd: ROOT,
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      },
    );
    children.push(client);
    const replies: ((message: { errors: number; last: string }) => void)[] = [];
    client.on("message", (message: { ready?: boolean; errors: number; last: string }) => {
      if (message.ready !== true) replies.shift()?.(message);
    });
    await new Promise((resolve) => client.once("message", resolve));
    const run = (n: number) =>
      new Promise<{ errors: number; last: string }>((resolve) => {
        replies.push(resolve);
        client.send({ run: n });
      });
    const warmed = await run(warm);
    if (warmed.errors > 0) throw new Error(`${warmed.errors} warm-up requests failed: ${warmed.last}`);
    if (target === "masked" && warmed.last.includes("ada@example.com"))
      throw new Error(`the masked answer is not masked: ${warmed.last}`);
    const sampler = process.env.BENCH_HTTP_HEAP_PROFILE === undefined ? undefined : await heapSampler();
    const profiler = new GCProfiler();
    const usedBefore = getHeapStatistics().used_heap_size;
    profiler.start();
    const started = performance.now();
    loadavg(); // callgrind dumps here (--dump-before=uv_loadavg): the counted part starts
    const result = await run(counted);
    loadavg(); // and ends here
    const micros = ((performance.now() - started) * 1000) / counted;
    if (sampler !== undefined) writeFileSync(process.env.BENCH_HTTP_HEAP_PROFILE!, await sampler());
    let freed = 0;
    for (const gc of profiler.stop()?.statistics ?? [])
      freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
    const heapBytes = Math.round((getHeapStatistics().used_heap_size - usedBefore + freed) / counted);
    if (result.errors > 0) throw new Error(`${result.errors} counted requests failed: ${result.last}`);
    console.log(
      `${target}: ${counted} requests counted after ${warm}, ${heapBytes} heap bytes and ${micros.toFixed(1)} µs (wall time) each`,
    );
  } finally {
    for (const child of children) child.kill();
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

/**
 * BENCH_HTTP_HEAP_PROFILE=<file.heapprofile>: where the counted requests allocate, garbage included (a sample
 * every 256 bytes; the file opens in Chrome's DevTools). Sampling slows the process: not for counting.
 */
async function heapSampler(): Promise<() => Promise<string>> {
  const { Session } = await import("node:inspector");
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params, (error, result) => (error === null ? resolve(result) : reject(error))),
    );
  await post("HeapProfiler.startSampling", {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return async () => {
    const { profile } = (await post("HeapProfiler.stopSampling")) as { profile: unknown };
    session.disconnect();
    return JSON.stringify(profile);
  };
}

/** Timers and performance.now as if this process ran `scale` times faster than it does (see the header). */
function slowClock(scale: number): void {
  if (!(scale > 1)) return;
  const realNow = performance.now.bind(performance);
  const realSetTimeout = globalThis.setTimeout;
  // Socket timeouts too: the HTTP server's keep-alive timeout is one, and would otherwise close the client's
  // connection when the slowed gateway stalls for seconds (a JIT compilation) between two requests.
  const realSocketTimeout = Socket.prototype.setTimeout;
  Socket.prototype.setTimeout = function (this: Socket, ms: number, callback?: () => void) {
    return realSocketTimeout.call(this, ms * scale, callback);
  };
  performance.now = () => realNow() / scale;
  globalThis.setTimeout = ((run: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) =>
    realSetTimeout(run, (ms ?? 0) * scale, ...args)) as unknown as typeof setTimeout;
}

async function startGatewayIn(dir: string, upstreamPort: number, cert: string, key: string) {
  const dist = process.env.BENCH_LATCH_DIST ?? join(ROOT, "dist");
  const load = async (path: string) => import(pathToFileURL(join(dist, path)).href);
  const { configSchema } = await load("src/config/schema.js");
  const { startGateway } = await load("src/server/start-gateway.js");
  const { mintDevToken } = await load("src/identity/dev-issuer.js");
  const { pino } = await import("pino");
  const dataDir = join(dir, "latch-data");
  const policies = join(dir, "policies");
  mkdirSync(policies, { recursive: true });
  // The same gateway as bench/http-bench.ts' `latch serve`.
  writeFileSync(
    join(policies, "bench.cedar"),
    'permit(principal in Group::"bench", action in Action::"http:read", resource);\n',
  );
  process.env.BENCH_HTTP_SECRET = "bench-upstream-secret";
  const upstream = `http://127.0.0.1:${upstreamPort}`;
  const inject = { bearer: { env: "BENCH_HTTP_SECRET" } };
  const config = configSchema.parse({
    listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" },
    data_dir: dataDir,
    tls: { cert_file: cert, key_file: key },
    identity: { dev_issuer: true },
    policies,
    masking: { pii: { detectors: ["email", "credit_card", "us_ssn"] } },
    connections: {
      api: { type: "http", upstream, inject },
      masked: { type: "http", upstream, masking: ["pii"], inject },
    },
    log_level: "silent",
  });
  const gateway = await startGateway(
    { config, file: undefined, baseDir: dir },
    { log: pino({ level: "silent" }) },
  );
  const token: string = await mintDevToken(dataDir, {
    subject: "bench",
    groups: ["bench"],
    ttlSeconds: 7200,
  });
  return {
    port: gateway.listeners.get("http").port as number,
    token,
    stop: () => gateway.stop() as Promise<void>,
  };
}

/** bench/node-floor.mjs' `http` mode, in this process. */
function startFloor(upstreamPort: number, cert: string, key: string) {
  const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 64 });
  const server = createHttpsServer({ cert, key }, (req, res) => {
    pool
      .request({
        method: req.method as "GET",
        path: req.url ?? "/",
        headers: { accept: req.headers.accept ?? "*/*" },
      })
      .then(({ statusCode, headers, body }) => {
        res.writeHead(statusCode, headers as Record<string, string>);
        body.pipe(res);
      })
      .catch(() => {
        res.writeHead(502).end();
      });
  });
  const listening = new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
  );
  const close = async () => {
    server.closeAllConnections();
    server.close();
    await pool.close();
  };
  return { listening, close };
}

async function waitForListener(port: number): Promise<void> {
  const { connect } = await import("node:net");
  for (let i = 0; i < 500; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`nothing listens on ${port}`);
}
