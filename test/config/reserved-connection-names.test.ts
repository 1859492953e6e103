import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load-config.js";
import { isLatchError } from "../../src/errors.js";

/**
 * The HTTP listener serves /mcp, /oauth/token and /.well-known/... before it routes to a connection by its
 * first path segment: a connection of such a name would lose those paths, so the config (`latch config check`,
 * `latch serve`) refuses it.
 */

const dir = mkdtempSync(path.join(tmpdir(), "latch-config-names-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(yaml: string) {
  const file = path.join(dir, `c-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return loadConfig(file);
}

function refusal(yaml: string): string {
  try {
    load(yaml);
  } catch (error) {
    if (isLatchError(error)) return error.message;
    throw error;
  }
  throw new Error("the config was accepted");
}

const http = (name: string) =>
  `connections:\n  ${JSON.stringify(name)}: { type: http, upstream: "https://api.example.com" }\n`;

describe("reserved connection names", () => {
  it.each(["oauth", "mcp", ".well-known"])("refuses an HTTP connection named %s, saying why", (name) => {
    const message = refusal(http(name));
    expect(message).toContain(name);
    expect(message).toContain("reserved");
    expect(message).toContain("/oauth/token (token exchange)");
    expect(message).toContain("choose another name");
  });

  it("refuses the names for every connection type (a name is one namespace)", () => {
    expect(
      refusal("connections:\n  oauth: { type: postgres, upstream: 'postgres://app@127.0.0.1:5432/app' }\n"),
    ).toContain("reserved");
  });

  it.each(["oauth2", "oauth-api", "OAuth", "mcp-tools"])(
    "accepts %s (the listener matches exact segments)",
    (name) => {
      expect(load(http(name)).config.connections[name]?.type).toBe("http");
    },
  );
});
