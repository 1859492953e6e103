/**
 * Deterministic counts per request on the HTTP request path (issue 13): the compiled `latch serve` in front of
 * the bench's JSON upstream, one keep-alive TLS connection, N sequential small JSON GETs, and per request the
 * system calls of the whole gateway (`strace -f -c`, attached after warm-up) and the bytes its main isolate
 * allocated (bench/alloc-probe.mjs). Unlike latency these hold on a loaded machine, so before/after builds
 * compare: `BENCH_LATCH_CLI=<other build>/dist/src/cli/main.js node --import tsx bench/http-counters.ts`.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generate } from "selfsigned";
import { Agent, request } from "undici";
import { freePort } from "../test/support/free-port.js";
import { traced } from "./hot-path-counters.js";
import { startLatchHttp, UPSTREAM_SCRIPT } from "./http-bench.js";
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

export async function countHttpRequestPath(requests = 2000): Promise<Record<string, Record<string, number>>> {
  const dir = await mkdtemp(join(tmpdir(), "latch-http-counters-"));
  const services: ServiceProcess[] = [];
  const probeFile = join(dir, "allocated.json");
  process.env.LATCH_ALLOC_PROBE_FILE = probeFile;
  process.env.BENCH_LATCH_NODE_ARGS = `--import ${ALLOC_PROBE}`;
  try {
    const pems = await generate([{ name: "commonName", value: "localhost" }], {
      keyType: "ec",
      algorithm: "sha256",
      extensions: [{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }],
    });
    const cert = join(dir, "bench.crt");
    const key = join(dir, "bench.key");
    await writeFile(cert, pems.cert);
    await writeFile(key, pems.private, { mode: 0o600 });
    const [upstreamPort, latchPort] = [await freePort(), await freePort()];
    const upstream = spawnService(process.execPath, ["-e", UPSTREAM_SCRIPT, String(upstreamPort)]);
    services.push(upstream);
    await waitForPort(upstreamPort, upstream, 10_000);
    const latch = await startLatchHttp(dir, latchPort, upstreamPort, cert, key);
    services.push(latch.service);
    const pid = latch.service.child.pid!;
    const dispatcher = new Agent({ connections: 1, connect: { ca: pems.cert } });
    const headers = { authorization: `Bearer ${latch.token}` };
    const results: Record<string, Record<string, number>> = {};
    for (const connection of ["api", "masked"]) {
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
      const calls = await traced(pid, () => run(requests));
      const heapAfter = await allocated(pid, probeFile);
      const per = (n: number) => Math.round((n / requests) * 100) / 100;
      const syscalls = Object.values(calls).reduce((sum, n) => sum + n, 0);
      const writes = ["write", "writev", "sendmsg", "sendto", "pwrite64"].reduce(
        (s, k) => s + (calls[k] ?? 0),
        0,
      );
      const reads = ["read", "readv", "recvmsg", "recvfrom", "pread64"].reduce(
        (s, k) => s + (calls[k] ?? 0),
        0,
      );
      results[connection] = {
        heapBytesPerRequest: Math.round((heapAfter - heapBefore) / requests),
        syscallsPerRequest: per(syscalls),
        writeSyscallsPerRequest: per(writes),
        readSyscallsPerRequest: per(reads),
      };
    }
    await dispatcher.close();
    return results;
  } finally {
    for (const service of services.reverse()) await service.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(
    JSON.stringify(await countHttpRequestPath(Number(process.env.BENCH_HTTP_REQUESTS ?? 2000)), null, 2),
  );
}
