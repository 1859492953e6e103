import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresStores } from "../../src/store/postgres/open-postgres-stores.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";

/** The shared store as configured in production: a URL without password, the password from a secret reference. */
let cluster: PgCluster;
beforeAll(async () => {
  cluster = await startPgCluster({ auth: "scram-sha-256" });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe("PostgreSQL store connection", () => {
  it("logs in with SCRAM using the password from its secret reference", async () => {
    process.env.LATCH_TEST_PG_STORE_PW = cluster.appPassword;
    const stores = await openPostgresStores(
      {
        url: `postgres://${cluster.appUser}@127.0.0.1:${cluster.port}/${cluster.appDatabase}`,
        password: { env: "LATCH_TEST_PG_STORE_PW" },
        tls: "disable",
        pool_size: 2,
      },
      { gatewayId: "gw-test" },
    );
    try {
      await stores.check();
      expect(await stores.auditReader.verifyChain()).toMatchObject({ ok: true });
    } finally {
      await stores.close();
    }
  });

  it("a wrong password is refused with the store named and no secret in the message", async () => {
    process.env.LATCH_TEST_PG_STORE_PW = "not-the-password";
    const failure = (await openPostgresStores(
      {
        url: `postgres://${cluster.appUser}@127.0.0.1:${cluster.port}/${cluster.appDatabase}`,
        password: { env: "LATCH_TEST_PG_STORE_PW" },
        tls: "disable",
        pool_size: 2,
      },
      { gatewayId: "gw-test" },
    ).then(
      () => new Error("opened"),
      (error: unknown) => error,
    )) as Error;
    expect(failure.message).toMatch(
      /cannot open the PostgreSQL store at 127\.0\.0\.1:\d+\/app: .*password authentication failed/,
    );
    expect(failure.message).not.toContain("not-the-password");
  });
});
