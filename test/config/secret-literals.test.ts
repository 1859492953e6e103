import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load-config.js";
import { isLatchError } from "../../src/errors.js";

/** A secret is a reference, never a literal: also not hidden in a URL, and never echoed back (issue 10). */

const dir = mkdtempSync(path.join(tmpdir(), "latch-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refusal(yaml: string): string {
  const file = path.join(dir, `c-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  try {
    loadConfig(file);
  } catch (error) {
    if (isLatchError(error)) return error.message;
    throw error;
  }
  throw new Error("the config was accepted");
}

describe("secrets in URLs", () => {
  it.each([
    [
      "a postgres upstream",
      "connections:\n  app: { type: postgres, upstream: 'postgres://app:hunter2@db:5432/app' }\n",
    ],
    [
      "an ssh upstream",
      "connections:\n  web: { type: ssh, upstream: 'ssh://deploy:hunter2@web:22', private_key: { env: K }, host_key: 'SHA256:x' }\n",
    ],
    ["the store", "store: 'postgres://latch:hunter2@store-db:5432/latch'\n"],
  ])("refuses a password in %s, naming the fix and never the value", (_what, yaml) => {
    const message = refusal(yaml);
    expect(message).toContain("must not contain a password");
    expect(message).toContain("{ env: VAR_NAME }");
    expect(message).not.toContain("hunter2");
  });

  it("accepts the user alone in the URL", () => {
    const file = path.join(dir, "ok.yaml");
    writeFileSync(
      file,
      "connections:\n  app: { type: postgres, upstream: 'postgres://app@db:5432/app', tls: verify-full, password: { env: PW } }\n",
    );
    expect(loadConfig(file).config.connections.app?.type).toBe("postgres");
  });
});

describe("upstream TLS is a choice", () => {
  it("refuses a postgres connection to another machine without tls:, naming the choices", () => {
    const message = refusal(
      "connections:\n  app: { type: postgres, upstream: 'postgres://app@db.internal:5432/app', password: { env: PW } }\n",
    );
    expect(message).toContain("connections.app.tls");
    expect(message).toContain("tls: verify-full");
  });

  it("accepts an explicit choice, and a loopback upstream without one", () => {
    for (const [name, yaml] of [
      ["explicit", "  app: { type: postgres, upstream: 'postgres://app@db.internal/app', tls: disable }\n"],
      ["loopback", "  app: { type: postgres, upstream: 'postgres://app@127.0.0.1:5432/app' }\n"],
    ] as const) {
      const file = path.join(dir, `${name}.yaml`);
      writeFileSync(file, `connections:\n${yaml}`);
      expect(loadConfig(file).config.connections.app?.type).toBe("postgres");
    }
  });
});
