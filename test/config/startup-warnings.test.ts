import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { startupWarnings } from "../../src/config/startup-warnings.js";
import { LATCH_CLI } from "../support/latch-serve.js";

const CONNECTION = {
  app: { type: "postgres", upstream: "postgres://app@127.0.0.1:5432/app", password: { env: "X" } },
};

function config(overrides: Record<string, unknown>) {
  return configSchema.parse({ identity: { dev_issuer: true }, connections: CONNECTION, ...overrides });
}

describe("startupWarnings (issue 18)", () => {
  it("says nothing for a gateway that can let someone through", () => {
    expect(startupWarnings(config({}), 3)).toEqual([]);
    const withIssuer = config({
      identity: { issuers: [{ issuer: "https://idp.example", audience: "latch" }] },
    });
    expect(startupWarnings(withIssuer, 1)).toEqual([]);
  });

  it("warns about no connections", () => {
    expect(startupWarnings(config({ connections: {} }), 1)).toEqual([
      { code: "no_connections", message: expect.stringContaining("no connections are configured") },
    ]);
  });

  it("warns about no policies, naming the directory", () => {
    expect(startupWarnings(config({ policies: "/etc/latch/policies" }), 0)).toEqual([
      { code: "no_policies", message: expect.stringContaining("no policies in /etc/latch/policies") },
    ]);
  });

  it("warns about no issuers only when the dev issuer is off too", () => {
    expect(startupWarnings(config({ identity: { dev_issuer: false } }), 1)).toEqual([
      { code: "no_issuers", message: expect.stringContaining("identity.issuers is empty") },
    ]);
  });

  it("lists each one when all are missing (the embedded defaults)", () => {
    expect(startupWarnings(configSchema.parse({}), 0).map((warning) => warning.code)).toEqual([
      "no_connections",
      "no_policies",
      "no_issuers",
    ]);
  });
});

describe("latch serve --strict (compiled CLI)", () => {
  const run = promisify(execFile);
  const dir = mkdtempSync(path.join(os.tmpdir(), "latch-strict-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses to start on a config that lets no one through, and says why", async () => {
    if (!existsSync(LATCH_CLI))
      throw new Error(`${LATCH_CLI} is missing: run "npm run build" before the tests`);
    mkdirSync(path.join(dir, "policies"));
    const file = path.join(dir, "latch.yaml");
    writeFileSync(
      file,
      `listen: { postgres: "127.0.0.1:0", admin: "127.0.0.1:0" }\n` +
        `data_dir: ${JSON.stringify(path.join(dir, "data"))}\n` +
        `policies: ${JSON.stringify(path.join(dir, "policies"))}\n`,
    );
    const result = await run(process.execPath, [LATCH_CLI, "serve", "-c", file, "--strict"], {
      timeout: 15_000,
    }).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("latch: --strict: no connections are configured");
    expect(result.stderr).toContain("no policies in");
    expect(result.stderr).toContain("no token issuers are trusted");
    // Refused before anything was opened.
    expect(existsSync(path.join(dir, "data", "latch.db"))).toBe(false);
  });
});
