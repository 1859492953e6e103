import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";
import { startTestGateway, TEST_POLICY, type TestGateway } from "../support/test-gateway.js";

// Sensitivity labels through real sessions: node-postgres through the in-process gateway to a real PostgreSQL,
// with `sensitivity:` and a masking rule on the connection, and policies that read them.
let cluster: PgCluster;
let gateway: TestGateway;

const POLICY = `${TEST_POLICY}
@id("high-reads-need-dba")
forbid (principal, action in Action::"sql:read", resource)
when { context.statement.sensitivity == "high" }
unless { principal in Group::"dba" };
@id("no-writes-to-masked")
forbid (principal, action in Action::"sql:write", resource)
when { context.statement.touches_masked };
@id("low-tables-no-delete")
forbid (principal, action == Action::"sql:delete", resource)
when { resource is Table && resource.sensitivity == "low" };
`;

beforeAll(async () => {
  cluster = await startPgCluster();
  const app = new pg.Client({
    connectionString: cluster.superuserUrl.replace(/\/postgres$/, `/${cluster.appDatabase}`),
  });
  await app.connect();
  await app.query(`SET ROLE ${cluster.appUser};
    CREATE TABLE customers (id int, name text); INSERT INTO customers VALUES (1, 'ada');
    CREATE TABLE orders (id int, customer int); INSERT INTO orders VALUES (1, 1);
    CREATE TABLE people (id int, email text); INSERT INTO people VALUES (1, 'ada@example.com');`);
  await app.end();
  const passwordEnv = `LATCH_TEST_PW_${cluster.port}`;
  gateway = await startTestGateway(cluster, {
    policy: POLICY,
    passwordEnv,
    overrides: {
      masking: { pii: { columns: ["public.people.email"] } },
      connections: {
        app: {
          type: "postgres",
          upstream: `postgres://${cluster.appUser}@127.0.0.1:${cluster.port}/${cluster.appDatabase}`,
          password: { env: passwordEnv },
          masking: ["pii"],
          sensitivity: { high: ["public.customers"], low: ["public.orders"] },
        },
      },
    },
  });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await cluster?.stop();
});

describe("sensitivity labels through a real session", () => {
  it("a read that touches high-sensitivity data needs the dba group; the same read of orders alone does not", async () => {
    const agent = await gateway.connect(await gateway.token("ana", ["agents"]));
    expect((await agent.query("SELECT count(*)::int AS n FROM orders")).rows).toEqual([{ n: 1 }]);
    await expect(
      agent.query("SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer"),
    ).rejects.toThrow(/forbidden.*high-reads-need-dba/);
    await agent.end();
    const dba = await gateway.connect(await gateway.token("dee", ["agents", "dba"]));
    expect((await dba.query("SELECT name FROM customers")).rows).toEqual([{ name: "ada" }]);
    await dba.end();
  });

  it("touches_masked and resource.sensitivity", async () => {
    const writer = await gateway.connect(await gateway.token("wes", ["writers"]));
    await expect(writer.query("UPDATE people SET id = 2 WHERE id = 1")).rejects.toThrow(
      /no-writes-to-masked/,
    );
    await expect(writer.query("DELETE FROM orders WHERE id = 1")).rejects.toThrow(/low-tables-no-delete/);
    expect((await writer.query("INSERT INTO customers VALUES (2, 'bo')")).rowCount).toBe(1);
    await writer.end();
  });
});
