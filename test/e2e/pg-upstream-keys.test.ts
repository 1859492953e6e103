import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scramSlot, upstreamScramKeys } from "../../src/protocols/postgres/scram-key-cache.js";
import { type GatewayFixture, startGatewayFixture } from "./pg-fixture.js";

/** The server's salt and iteration count for a role (SCRAM-SHA-256$<iterations>:<salt>$...). */
async function saltOf(fx: GatewayFixture, role: string): Promise<{ salt: string; iterations: number }> {
  const { rows } = await fx.cluster.query("SELECT rolpassword FROM pg_authid WHERE rolname = $1", [role]);
  const [, iterations, salt] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(rows[0].rolpassword as string)!;
  return { salt: salt!, iterations: Number(iterations) };
}

describe("the gateway's upstream SCRAM keys across logins and a rotated secret", () => {
  let fx: GatewayFixture;
  const passwordEnv = "LATCH_TEST_PW_KEYS";
  beforeAll(async () => {
    fx = await startGatewayFixture({ passwordEnv });
  }, 60_000);
  afterAll(async () => {
    await fx?.stop();
  });

  const query = async () => {
    const client = await fx.gw.connect(await fx.gw.token("keys@example.com", ["agents"]));
    try {
      return (await client.query("SELECT current_user AS who")).rows[0].who as string;
    } finally {
      await client.end();
    }
  };

  it("keeps the static credential's keys after the first login and logs in from them", async () => {
    const slot = scramSlot("app", "127.0.0.1", fx.cluster.port, fx.cluster.appUser);
    expect(await query()).toBe(fx.cluster.appUser);
    const { salt, iterations } = await saltOf(fx, fx.cluster.appUser);
    expect(upstreamScramKeys.lookup(slot, fx.cluster.appPassword, salt, iterations)).toBeDefined();
    expect(await query()).toBe(fx.cluster.appUser);
  });

  it("a secret rotated at the server and the gateway: the next login derives and keeps the new keys only", async () => {
    const slot = scramSlot("app", "127.0.0.1", fx.cluster.port, fx.cluster.appUser);
    const old = { password: fx.cluster.appPassword, ...(await saltOf(fx, fx.cluster.appUser)) };
    const rotated = `${old.password}-rotated`;
    await fx.cluster.query(`ALTER ROLE ${fx.cluster.appUser} PASSWORD '${rotated}'`);
    process.env[passwordEnv] = rotated;
    try {
      expect(await query()).toBe(fx.cluster.appUser);
      const now = await saltOf(fx, fx.cluster.appUser);
      expect(upstreamScramKeys.lookup(slot, rotated, now.salt, now.iterations)).toBeDefined();
      expect(upstreamScramKeys.lookup(slot, old.password, old.salt, old.iterations)).toBeUndefined();
      // The server rotated again, the gateway not yet: refused, and the stale keys are dropped.
      await fx.cluster.query(`ALTER ROLE ${fx.cluster.appUser} PASSWORD '${old.password}'`);
      await expect(query()).rejects.toMatchObject({ code: "08006" });
      expect(upstreamScramKeys.has(slot)).toBe(false);
    } finally {
      process.env[passwordEnv] = old.password;
      await fx.cluster.query(`ALTER ROLE ${fx.cluster.appUser} PASSWORD '${old.password}'`);
    }
    expect(await query()).toBe(fx.cluster.appUser);
  });
});
