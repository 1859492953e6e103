import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { registerTokenCommand } from "../../src/cli/commands/token.js";
import { configSchema } from "../../src/config/schema.js";
import { createTokenVerifier } from "../../src/identity/create-token-verifier.js";

let workDir: string;

beforeEach(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), "latch-token-cli-"));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(workDir, { recursive: true, force: true });
});

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
    const dataDir = path.join(workDir, "data");
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
      "--data-dir",
      dataDir,
    ]);
    expect(output).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const identity = await devVerifier(dataDir).verify(output.trim());
    expect(identity).toMatchObject({ subject: "ci-bot", groups: ["agents", "readers"] });
    expect(identity.expiresAt - before).toBeGreaterThan(299_000);
    expect(identity.expiresAt - before).toBeLessThanOrEqual(301_000);
  });

  it("uses data_dir from a config that enables the dev issuer", async () => {
    const configFile = path.join(workDir, "latch.yaml");
    await writeFile(configFile, "data_dir: ./state\nidentity:\n  dev_issuer: true\n");
    const output = await runLatch(["token", "--sub", "alice", "--config", configFile]);
    await expect(devVerifier(path.join(workDir, "state")).verify(output.trim())).resolves.toMatchObject({
      subject: "alice",
      groups: [],
    });
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
    const dataDir = path.join(workDir, "data");
    await expect(runLatch(["token", "--sub", "a", "--ttl", "soon", "--data-dir", dataDir])).rejects.toThrow(
      /--ttl: "soon" is not a duration/,
    );
    await expect(runLatch(["token", "--sub", "a", "--ttl", "2d", "--data-dir", dataDir])).rejects.toThrow(
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
