import { rmSync } from "node:fs";
import path from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "./pg-fixture.js";

// Fail closed: when the audit log cannot be written, statements are refused (58030), never run unrecorded.
let fx: GatewayFixture;

beforeAll(async () => {
  fx = await startGatewayFixture();
});
afterAll(async () => fx?.stop());

describe("audit store failure", () => {
  it("denies every statement with 58030 once the audit store is gone, and reports unhealthy", async () => {
    const client = await fx.gw.connect(await fx.gw.token("ci-bot", ["agents"]));
    expect((await client.query("SELECT 1 AS ok")).rows[0].ok).toBe(1);
    rmSync(path.join(fx.gw.dataDir, "latch.db"));
    // The index notices on its next write; from then on nothing is admitted.
    await client.query("SELECT 2").catch(() => undefined);
    await fx.gw.gateway.flushAudit().catch(() => undefined);
    const error = (await client.query("SELECT count(*) FROM items").then(
      () => undefined,
      (e: pg.DatabaseError) => e,
    )) as pg.DatabaseError;
    expect(error.code).toBe("58030");
    expect(error.message).toMatch(/audit log could not be written/);
    const health = await fetch(`${fx.gw.adminUrl}/healthz`);
    expect(health.status).toBe(503);
    await client.end();
  });
});
