import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load-config.js";
import { isLatchError } from "../../src/errors.js";

/** `pool:` on a postgres connection: off unless set, defaults filled in, refused together with `ephemeral:`. */

const dir = mkdtempSync(path.join(tmpdir(), "latch-config-pool-"));
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

const connection = (extra: string) => `connections:
  db:
    type: postgres
    upstream: postgres://app@127.0.0.1:5432/app
${extra}`;

const ephemeral = `    ephemeral:
      admin_user: latch_admin
      admin_password: { env: ADMIN_PW }
`;

function poolOf(yaml: string) {
  const db = load(yaml).config.connections.db;
  if (db?.type !== "postgres") throw new Error("expected the postgres connection");
  return db.pool;
}

describe("postgres connection pool config", () => {
  it("is off unless set", () => {
    expect(poolOf(connection(""))).toBeUndefined();
  });

  it("fills in the defaults and parses durations", () => {
    expect(poolOf(connection("    pool: {}\n"))).toEqual({
      max_idle: 4,
      idle_timeout: "60s",
      max_lifetime: "1h",
    });
    expect(poolOf(connection("    pool: { max_idle: 8, idle_timeout: 5m }\n"))).toMatchObject({
      max_idle: 8,
      idle_timeout: "5m",
    });
    expect(refusal(connection("    pool: { idle_timeout: soon }\n"))).toContain("duration");
    expect(refusal(connection("    pool: { max_idle: 0 }\n"))).toContain("max_idle");
  });

  it("is refused together with ephemeral, naming both keys and the fix", () => {
    const message = refusal(connection(`    pool: { max_idle: 4 }\n${ephemeral}`));
    expect(message).toContain("pool");
    expect(message).toContain("ephemeral");
    expect(message).toMatch(/remove pool \(or ephemeral\)/);
    expect(message).toContain("db");
  });
});
