import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startAdminServer } from "../../src/admin/admin-server.js";
import { configSchema } from "../../src/config/schema.js";
import { createTokenVerifier } from "../../src/identity/create-token-verifier.js";
import { mintDevToken } from "../../src/identity/dev-issuer.js";
import { createMetrics } from "../../src/observability/metrics.js";
import type { AuditReader } from "../../src/store/store.js";

let dir: string;
let admin: Awaited<ReturnType<typeof startAdminServer>>;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "latch-admin-rejection-"));
  const config = configSchema.parse({
    listen: { postgres: "127.0.0.1:0", admin: "127.0.0.1:0" },
    data_dir: dir,
    identity: { dev_issuer: true },
  });
  admin = await startAdminServer({
    config,
    audit: {} as AuditReader,
    checkStore: async () => {},
    storeHealth: () => ({ writable: true }) as never,
    metrics: createMetrics(),
    verifier: createTokenVerifier(config.identity, { dataDir: dir }),
    log: pino({ level: "silent" }),
    live: { size: 0 },
    policyCount: () => 0,
  });
});
afterEach(async () => {
  await admin.close();
  await rm(dir, { recursive: true, force: true });
});

async function sessionsWith(token: string) {
  const response = await fetch(`http://127.0.0.1:${admin.address.port}/api/sessions`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: response.status, body: (await response.json()) as { error: string; message: string } };
}

describe("admin API token rejection message (issue 18)", () => {
  it("says why once: the console prefixes 'token rejected: ' itself", async () => {
    const { status, body } = await sessionsWith("not-a-jwt");
    expect(status).toBe(401);
    expect(body.error).toBe("unauthorized");
    expect(body.message).not.toMatch(/token rejected/);
    expect(body.message.length).toBeGreaterThan(0);
    // What the console shows for a 401.
    expect(`token rejected: ${body.message}`).not.toMatch(/token rejected: token rejected/);
  });

  it("a token signed by another dev issuer is rejected with its reason, no doubled prefix", async () => {
    const otherDir = await mkdtemp(path.join(tmpdir(), "latch-admin-other-"));
    try {
      const token = await mintDevToken(otherDir, {
        subject: "alice",
        groups: ["latch-admins"],
        ttlSeconds: 60,
      });
      const { status, body } = await sessionsWith(token);
      expect(status).toBe(401);
      expect(body.message).not.toMatch(/^token rejected/);
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });
});
