import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { registerTokenCommand } from "../../src/cli/commands/token.js";
import { configSchema } from "../../src/config/schema.js";
import { createTokenVerifier } from "../../src/identity/create-token-verifier.js";
import { loadOrCreateDevIssuer } from "../../src/identity/dev-issuer.js";
import { LATCH_CLI } from "../support/latch-serve.js";

let workDir: string;
const startDir = process.cwd();

beforeEach(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), "latch-token-cli-"));
});
afterEach(async () => {
  vi.restoreAllMocks();
  process.chdir(startDir);
  await rm(workDir, { recursive: true, force: true });
});

/** A config as `latch serve --config` would run it: dev issuer on, keys under workDir/state. */
async function devConfig(): Promise<string> {
  const configFile = path.join(workDir, "latch.yaml");
  await writeFile(configFile, "data_dir: ./state\nidentity:\n  dev_issuer: true\n");
  return configFile;
}

/** Runs `latch <args>` in-process and returns what reached stdout. */
async function runLatch(args: string[]): Promise<string> {
  let stdout = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  const program = new Command().name("latch").exitOverride();
  program.configureOutput({ writeOut: (text) => (stdout += text), writeErr: () => undefined });
  registerTokenCommand(program);
  try {
    await program.parseAsync(["node", "latch", ...args]);
  } finally {
    vi.mocked(process.stdout.write).mockRestore();
  }
  return stdout;
}

function devVerifier(dataDir: string) {
  const { identity } = configSchema.parse({ identity: { dev_issuer: true } });
  return createTokenVerifier(identity, { dataDir });
}

describe("latch token", () => {
  it("prints only the token, usable as a password, with the requested subject, groups and ttl", async () => {
    const configFile = await devConfig();
    const before = Date.now();
    const output = await runLatch([
      "token",
      "--sub",
      "ci-bot",
      "--group",
      "agents",
      "--group",
      "readers",
      "--ttl",
      "5m",
      "--config",
      configFile,
    ]);
    expect(output).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const identity = await devVerifier(path.join(workDir, "state")).verify(output.trim());
    expect(identity).toMatchObject({ subject: "ci-bot", groups: ["agents", "readers"] });
    expect(identity.expiresAt - before).toBeGreaterThan(299_000);
    expect(identity.expiresAt - before).toBeLessThanOrEqual(301_000);
  });

  it("uses data_dir from a config that enables the dev issuer, ./latch.yaml when none is named", async () => {
    await devConfig();
    process.chdir(workDir);
    const output = await runLatch(["token", "--sub", "alice"]);
    await expect(devVerifier(path.join(workDir, "state")).verify(output.trim())).resolves.toMatchObject({
      subject: "alice",
      groups: [],
    });
  });

  it("refuses without a config, naming the fix, and leaves no key behind", async () => {
    process.chdir(workDir);
    await expect(runLatch(["token", "--sub", "alice"])).rejects.toThrow(
      /^no config: .*identity\.dev_issuer: true.*Pass --config latch\.yaml/,
    );
    expect(await readdir(workDir)).toEqual([]);
  });

  it("refuses without a config when --data-dir holds no dev issuer key: no gateway trusts a new one", async () => {
    process.chdir(workDir);
    const dataDir = path.join(workDir, "data");
    await expect(runLatch(["token", "--sub", "alice", "--data-dir", dataDir])).rejects.toThrow(
      `no config, and ${dataDir} holds no dev issuer key (dev-issuer.json)`,
    );
    expect(existsSync(dataDir)).toBe(false);
  });

  it("without a config, mints from the existing key of a --data-dir, as `latch demo` prints", async () => {
    process.chdir(workDir);
    const dataDir = path.join(workDir, "demo", "gateway");
    await loadOrCreateDevIssuer(dataDir);
    const output = await runLatch([
      "token",
      "--sub",
      "demo-agent",
      "--group",
      "agents",
      "--data-dir",
      dataDir,
    ]);
    await expect(devVerifier(dataDir).verify(output.trim())).resolves.toMatchObject({
      subject: "demo-agent",
      groups: ["agents"],
    });
  });

  it("the compiled latch token exits 1 with the fix on stderr and nothing on stdout without a config", async () => {
    if (!existsSync(LATCH_CLI))
      throw new Error(`${LATCH_CLI} is missing: run "npm run build" before the tests`);
    const result = await promisify(execFile)(process.execPath, [LATCH_CLI, "token", "--sub", "alice"], {
      cwd: workDir,
    }).then(
      () => ({ code: 0, stdout: "", stderr: "" }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^latch: no config: .*Pass --config latch\.yaml/);
  });

  it("fails when an explicit --config cannot be read instead of falling back to defaults", async () => {
    await expect(
      runLatch(["token", "--sub", "a", "--config", path.join(workDir, "absent.yaml"), "--data-dir", workDir]),
    ).rejects.toThrow(/cannot read config file/);
  });

  it("refuses when the config does not enable the dev issuer, saying how to enable it", async () => {
    const configFile = path.join(workDir, "latch.yaml");
    await writeFile(configFile, "identity:\n  dev_issuer: false\n");
    await expect(runLatch(["token", "--sub", "alice", "--config", configFile])).rejects.toThrow(
      /does not trust the dev issuer.*dev_issuer: true/,
    );
  });

  it("rejects a malformed or too long --ttl", async () => {
    const configFile = await devConfig();
    await expect(runLatch(["token", "--sub", "a", "--ttl", "soon", "--config", configFile])).rejects.toThrow(
      /--ttl: "soon" is not a duration/,
    );
    await expect(runLatch(["token", "--sub", "a", "--ttl", "2d", "--config", configFile])).rejects.toThrow(
      /between 1s and 24h/,
    );
  });

  it("documents itself in --help with an example", async () => {
    const { stdout } = await captureHelp();
    expect(stdout).toContain("--sub <name>");
    expect(stdout).toContain("--group <group>");
    expect(stdout).toContain("PGPASSWORD=$(latch token");
    expect(stdout).toContain("dev_issuer: true");
  });
});

async function captureHelp(): Promise<{ stdout: string }> {
  let stdout = "";
  const program = new Command().name("latch").exitOverride();
  program.configureOutput({ writeOut: (text) => (stdout += text), writeErr: () => undefined });
  registerTokenCommand(program);
  await program.parseAsync(["node", "latch", "token", "--help"]).catch(() => undefined);
  return { stdout };
}
