/**
 * Deterministic counts per request on the HTTP request path (issue 13): the compiled `latch serve` in front of
 * the bench's JSON upstream, one keep-alive TLS connection, N sequential small JSON GETs, and per request the
 * system calls of the whole gateway (`strace -f -c`, attached after warm-up) and the bytes its main isolate
 * allocated (bench/alloc-probe.mjs). Unlike latency these hold on a loaded machine, so before/after builds
 * compare: `BENCH_LATCH_CLI=<other build>/dist/src/cli/main.js node --import tsx bench/http-counters.ts`.
 * Also, informational only (it moves with the machine's load): CPU µs per request by thread over a second,
 * untraced run, since the process's CPU includes V8's helper threads (parallel scavenges, concurrent marking:
 * they follow allocation) and the audit index worker, which a main-thread profile does not show.
 */
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import { freePort } from "../test/support/free-port.js";
import { writeBenchCert } from "./bench-cert.js";
import { traced } from "./hot-path-counters.js";
import { startLatchHttp, UPSTREAM_SCRIPT } from "./http-bench.js";
import { CLK_TCK } from "./proc-cpu.js";
import { type ServiceProcess, spawnService, waitForPort } from "./service-process.js";

const ALLOC_PROBE = fileURLToPath(new URL("./alloc-probe.mjs", import.meta.url));

async function allocated(pid: number, file: string): Promise<number> {
  const read = () => {
    try {
      return JSON.parse(readFileSync(file, "utf8")) as { sequence: number; allocatedBytes: number };
    } catch {
      return { sequence: 0, allocatedBytes: 0 };
    }
  };
  const before = read().sequence;
  process.kill(pid, "SIGUSR2");
  for (let i = 0; i < 500; i++) {
    const now = read();
    if (now.sequence > before) return now.allocatedBytes;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("the allocation probe did not answer");
}

/** utime+stime ticks per thread of `pid`, the main thread under "main". */
function threadTicks(pid: number): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks.set(tid === String(pid) ? "main" : tid, Number(fields[11]) + Number(fields[12]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return ticks;
}

/** CPU µs per request: main thread, the other threads together, and the total. */
async function cpuByThread(pid: number, requests: number, work: () => Promise<void>) {
  const before = threadTicks(pid);
  await work();
  const after = threadTicks(pid);
  let main = 0;
  let others = 0;
  for (const [tid, ticks] of after) {
    const used = ticks - (before.get(tid) ?? 0);
    if (tid === "main") main += used;
    else others += used;
  }
  const us = (ticks: number) => Math.round((ticks / CLK_TCK / requests) * 1e6);
  return { mainThread: us(main), otherThreads: us(others), total: us(main + others) };
}

export async function countHttpRequestPath(requests = 2000): Promise<Record<string, Record<string, number>>> {
  const dir = await mkdtemp(join(tmpdir(), "latch-http-counters-"));
  const services: ServiceProcess[] = [];
  const probeFile = join(dir, "allocated.json");
  process.env.LATCH_ALLOC_PROBE_FILE = probeFile;
  // Extra gateway flags stay (e.g. a --cpu-prof or a heap sampler), after the probe.
  process.env.BENCH_LATCH_NODE_ARGS = `--import ${ALLOC_PROBE} ${process.env.BENCH_LATCH_NODE_ARGS ?? ""}`;
  try {
    const { cert, key, certPem } = await writeBenchCert(dir);
    const [upstreamPort, latchPort] = [await freePort(), await freePort()];
    const upstream = spawnService(process.execPath, ["-e", UPSTREAM_SCRIPT, String(upstreamPort)]);
    services.push(upstream);
    await waitForPort(upstreamPort, upstream, 10_000);
    const latch = await startLatchHttp(dir, latchPort, upstreamPort, cert, key);
    services.push(latch.service);
    const pid = latch.service.child.pid!;
    const dispatcher = new Agent({ connections: 1, connect: { ca: certPem } });
    const headers = { authorization: `Bearer ${latch.token}` };
    const results: Record<string, Record<string, number>> = {};
    // BENCH_HTTP_CONNECTIONS=masked,api: another order (the first connection also warms the gateway's JIT).
    const connections = (process.env.BENCH_HTTP_CONNECTIONS ?? "api,masked").split(",");
    for (const connection of connections) {
      const url = `https://127.0.0.1:${latchPort}/${connection}/v1/item`;
      const run = async (n: number) => {
        for (let i = 0; i < n; i++) {
          const answer = await request(url, { dispatcher, headers });
          await answer.body.arrayBuffer();
          if (answer.statusCode !== 200) throw new Error(`status ${answer.statusCode}`);
        }
      };
      await run(500); // warm-up: JIT, session, caches
      const heapBefore = await allocated(pid, probeFile);
      // BENCH_HTTP_STRACE=0: no strace (syscalls read 0), for a --cpu-prof whose system calls are not slowed by it.
      const untraced = async () => {
        await run(requests);
        return {} as Record<string, number>;
      };
      const calls =
        process.env.BENCH_HTTP_STRACE === "0" ? await untraced() : await traced(pid, () => run(requests));
      const heapAfter = await allocated(pid, probeFile);
      const per = (n: number) => Math.round((n / requests) * 100) / 100;
      // BENCH_HTTP_SYSCALLS=1: every system call per request, by name, on stderr (what the totals are made of).
      if (process.env.BENCH_HTTP_SYSCALLS === "1")
        console.error(
          connection,
          Object.entries(calls)
            .sort(([, a], [, b]) => b - a)
            .map(([name, n]) => `${name} ${per(n)}`)
            .join(", "),
        );
      const syscalls = Object.values(calls).reduce((sum, n) => sum + n, 0);
      const writes = ["write", "writev", "sendmsg", "sendto", "pwrite64"].reduce(
        (s, k) => s + (calls[k] ?? 0),
        0,
      );
      const reads = ["read", "readv", "recvmsg", "recvfrom", "pread64"].reduce(
        (s, k) => s + (calls[k] ?? 0),
        0,
      );
      const cpu = await cpuByThread(pid, requests, () => run(requests));
      // A connection named twice (BENCH_HTTP_CONNECTIONS=api,masked,api) keeps each of its runs.
      const key = connection in results ? `${connection}#${Object.keys(results).length + 1}` : connection;
      results[key] = {
        cpuUsPerRequestMainThread: cpu.mainThread,
        cpuUsPerRequestOtherThreads: cpu.otherThreads,
        heapBytesPerRequest: Math.round((heapAfter - heapBefore) / requests),
        syscallsPerRequest: per(syscalls),
        writeSyscallsPerRequest: per(writes),
        readSyscallsPerRequest: per(reads),
      };
    }
    await dispatcher.close();
    return results;
  } finally {
    // A gateway under --cpu-prof writes its profile on exit: give it longer than the default grace before SIGKILL.
    for (const service of services.reverse()) await service.stop(30_000);
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(
    JSON.stringify(await countHttpRequestPath(Number(process.env.BENCH_HTTP_REQUESTS ?? 2000)), null, 2),
  );
}
