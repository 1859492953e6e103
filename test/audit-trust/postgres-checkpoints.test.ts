import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { generateSignerKey, parseSignerKey } from "../../src/audit/signed-note.js";
import { runAuditVerify } from "../../src/cli/commands/audit.js";
import { runAuditCheckpoint } from "../../src/cli/commands/audit-checkpoints.js";
import { startTestGateway } from "../support/test-gateway.js";

/** The machine's PostgreSQL (127.0.0.1:5432, trust): a database of this test's own as the shared store. */
const database = `latch_trust_${process.pid}_${randomBytes(3).toString("hex")}`;
const admin = () => new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "postgres" });

beforeAll(async () => {
  const client = admin();
  await client.connect();
  await client.query(`CREATE DATABASE ${database} ENCODING 'UTF8' TEMPLATE template0`);
  await client.end();
});
afterAll(async () => {
  const client = admin();
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await client.end();
});

describe("signed checkpoints on the PostgreSQL store", () => {
  it("signs the shared chain's head with the configured key, and verify --key checks every checkpoint", async () => {
    const signerKey = generateSignerKey("latch-shared", randomBytes(32));
    process.env.LATCH_TEST_CHECKPOINT_KEY = signerKey;
    const store = `postgres://postgres@127.0.0.1:5432/${database}`;
    const gw = await startTestGateway(undefined, {
      overrides: {
        store,
        connections: { app: { type: "postgres", upstream: "postgres://postgres@127.0.0.1:5432/postgres" } },
        audit: { checkpoints: { every_events: 5, key: { env: "LATCH_TEST_CHECKPOINT_KEY" } } },
      },
    });
    const client = await gw.connect(await gw.token("agent-1", ["agents"]));
    for (let i = 0; i < 12; i++) await client.query(`SELECT ${i}`);
    await client.end();
    await gw.stop(); // writes a last checkpoint of the head

    const dir = mkdtempSync(path.join(os.tmpdir(), "latch-trust-"));
    const config = path.join(dir, "latch.yaml");
    writeFileSync(config, `store: ${store}\ndata_dir: ${dir}\n`);
    let out = "";
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    try {
      const pub = parseSignerKey(signerKey).verifierKey;
      expect(await runAuditVerify({ config, key: pub })).toBe(0);
      expect(out).toMatch(/checkpoints OK: [1-9]\d* signed by latch-shared/);
      out = "";
      expect(await runAuditCheckpoint({ config })).toBe(0);
      expect(out).toMatch(/^latch\.audit\.checkpoint\/v1\norigin latch-shared\n/);
    } finally {
      spy.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
