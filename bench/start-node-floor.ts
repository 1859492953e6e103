import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generate } from "selfsigned";
import { freePort } from "../test/support/free-port.js";
import { spawnService, waitForPort } from "./service-process.js";

/** A bare Node.js relay (bench/node-floor.mjs): what any Node.js gateway pays before doing any work of its own. */
export const NODE_FLOOR = fileURLToPath(new URL("./node-floor.mjs", import.meta.url));

export interface RunningNodeFloor {
  port: number;
  /** The process started (with --workers, the cluster primary: sample its whole tree for CPU). */
  pid: number;
  /** Relaying processes: 1, or the cluster's workers. */
  workers: number;
  stop(): Promise<void>;
}

/**
 * Starts `node bench/node-floor.mjs <mode>` relaying to 127.0.0.1:`targetPort`, waits until every worker
 * listens (a cluster accepts as soon as its first worker does, and would hand every connection to it).
 * pg-tls gets a fresh self-signed EC certificate, like the one Latch generates.
 */
export async function startNodeFloor(
  mode: "tcp" | "pg-tls",
  targetPort: number,
  workers = 1,
): Promise<RunningNodeFloor> {
  const dir = await mkdtemp(join(tmpdir(), "latch-bench-floor-"));
  const port = await freePort();
  const tlsFiles: string[] = [];
  if (mode === "pg-tls") {
    const pems = await generate([{ name: "commonName", value: "latch-bench-floor" }], {
      keyType: "ec",
      algorithm: "sha256",
      extensions: [{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }],
    });
    tlsFiles.push(join(dir, "floor.crt"), join(dir, "floor.key"));
    await writeFile(tlsFiles[0]!, pems.cert);
    await writeFile(tlsFiles[1]!, pems.private, { mode: 0o600 });
  }
  const service = spawnService(process.execPath, [
    NODE_FLOOR,
    mode,
    String(port),
    String(targetPort),
    ...tlsFiles,
    ...(workers > 1 ? ["--workers", String(workers)] : []),
  ]);
  const stop = async () => {
    await service.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, service, 20_000);
    for (const deadline = Date.now() + 20_000; !service.outputTail().includes("ready:"); ) {
      if (Date.now() > deadline) throw new Error(`not every worker listened:\n${service.outputTail()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await stop();
    throw new Error(`node-floor ${mode}: ${(error as Error).message}`);
  }
  return { port, pid: service.child.pid!, workers, stop };
}
