import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LATCH_CLI } from "../support/latch-serve.js";

/** Issue 10: a SIGTERM in the first moments after start (before "gateway ready") still ends with gateway_stop. */

const dir = mkdtempSync(path.join(tmpdir(), "latch-early-term-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("latch serve and an early SIGTERM", () => {
  it("stops cleanly, exit 0, with gateway_start and gateway_stop on record", async () => {
    const config = path.join(dir, "latch.yaml");
    writeFileSync(
      config,
      `listen: { admin: "127.0.0.1:0" }\ndata_dir: ${JSON.stringify(path.join(dir, "data"))}\npolicies: ${JSON.stringify(dir)}\nlog_level: info\n`,
    );
    const child = spawn(process.execPath, [LATCH_CLI, "serve", "--config", config], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // While start-up is under way (the audit journal exists, the listeners are not open yet): the old handlers
    // were installed only after start-up, so this signal ended the process with no gateway_stop.
    const journal = path.join(dir, "data", "audit.journal");
    for (let attempt = 0; attempt < 2000 && !existsSync(journal); attempt++)
      await new Promise<void>((resolve) => setTimeout(resolve, 5));
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => child.once("exit", (exit) => resolve(exit)));
    expect(code, stderr).toBe(0);
    const kinds = readFileSync(path.join(dir, "data", "audit.journal"), "utf8")
      .trim()
      .split("\n")
      .map((line) => (JSON.parse(line) as { kind: string }).kind);
    expect(kinds).toEqual(["gateway_start", "gateway_stop"]);
  });
});
