import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LATCH_CLI } from "../support/latch-serve.js";

// `latch token -c FILE` as `latch serve -c FILE` (issue 18), through the compiled executable.
const run = promisify(execFile);
const dir = mkdtempSync(path.join(os.tmpdir(), "latch-token-c-"));

beforeAll(() => {
  if (!existsSync(LATCH_CLI))
    throw new Error(`${LATCH_CLI} is missing: run "npm run build" before the tests`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("latch token -c", () => {
  it("accepts -c as the short form of --config", async () => {
    const config = path.join(dir, "latch.yaml");
    writeFileSync(
      config,
      `data_dir: ${JSON.stringify(path.join(dir, "data"))}\nidentity: { dev_issuer: true }\n`,
    );
    const { stdout } = await run(
      process.execPath,
      [LATCH_CLI, "token", "-c", config, "--sub", "alice", "--group", "agents"],
      { cwd: dir },
    );
    const [, payload] = stdout.trim().split(".");
    expect(JSON.parse(Buffer.from(payload ?? "", "base64url").toString())).toMatchObject({
      sub: "alice",
      groups: ["agents"],
    });
    expect(existsSync(path.join(dir, "data"))).toBe(true);
  });

  it("lists -c in its help", async () => {
    const { stdout } = await run(process.execPath, [LATCH_CLI, "token", "--help"]);
    expect(stdout).toMatch(/-c, --config <file>/);
  });
});
