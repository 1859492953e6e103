/**
 * Issue 18: the docs' examples run as users would run them. Every config block of README.md and docs/ goes
 * through the compiled `latch config check -c <file>`, and every Cedar block through `latch policy check
 * --policies <dir>`, each on its own (docs-blocks.test.ts checks the same blocks in-process, with the exact
 * schema messages; this proves the commands the docs tell people to run accept them).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { LATCH_CLI } from "../support/latch-serve.js";
import { type Block, cedarBlocks, configBlocks } from "./doc-blocks.js";

const run = promisify(execFile);
const scratch = mkdtempSync(path.join(os.tmpdir(), "latch-docs-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function name(block: Block): string {
  return `${block.file}:${block.line}`.replace(/[^\w.-]+/g, "_");
}

async function latch(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return run(process.execPath, [LATCH_CLI, ...args], {
    cwd,
    timeout: 30_000,
    env: { ...process.env, NO_COLOR: "1" },
  }).then(
    ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      output: error.stdout + error.stderr,
    }),
  );
}

// Each check is a fresh CLI process (about a second of CPU); a few at a time keep a loaded machine responsive.
describe.concurrent("docs blocks through the CLI", { timeout: 120_000 }, () => {
  it.each(configBlocks.map((block) => [`${block.file}:${block.line}`, block] as const))(
    "latch config check accepts the config block %s",
    async (_where, block) => {
      const dir = path.join(scratch, `config-${name(block)}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, "latch.yaml"), block.text);
      const result = await latch(["config", "check", "-c", "latch.yaml"], dir);
      expect(result.output).not.toMatch(/error|invalid/i);
      expect(result.code).toBe(0);
    },
  );

  it.each(cedarBlocks.map((block) => [`${block.file}:${block.line}`, block] as const))(
    "latch policy check accepts the Cedar block %s",
    async (_where, block) => {
      const dir = path.join(scratch, `policy-${name(block)}`);
      mkdirSync(path.join(dir, "policies"), { recursive: true });
      writeFileSync(path.join(dir, "policies", "example.cedar"), block.text);
      const result = await latch(["policy", "check", "--policies", "policies"], dir);
      expect(result.code, result.output).toBe(0);
    },
  );
});
