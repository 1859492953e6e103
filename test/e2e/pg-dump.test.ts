/**
 * Issue 18: `pg_dump --schema-only` works through Latch under the policy a read-only agent gets (sql:read, plus
 * sql:session, sql:set, sql:prepare and sql:execute for pg_dump's transaction, settings and prepared queries), and dumps exactly what a direct pg_dump of the
 * same role dumps. Its set_config('search_path', ''), ACCESS SHARE locks and SETs are what make this hard.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "./pg-fixture.js";

const run = promisify(execFile);
let fx: GatewayFixture;
let token: string;

const READER_POLICY = `
permit(principal in Group::"readers", action in Action::"sql:read", resource in Connection::"app");
permit(principal in Group::"readers", action in [Action::"sql:session", Action::"sql:set", Action::"sql:prepare", Action::"sql:execute"], resource in Connection::"app");
`;

beforeAll(async () => {
  fx = await startGatewayFixture({ policy: READER_POLICY });
  await fx.direct(`
    SET ROLE ${fx.cluster.appUser};
    CREATE TYPE public.mood AS ENUM ('calm', 'busy');
    CREATE TABLE public.orders (id bigserial PRIMARY KEY, item int REFERENCES public.items (id), mood public.mood,
      placed timestamptz DEFAULT now(), note text CHECK (length(note) < 200));
    CREATE INDEX orders_item ON public.orders (item) WHERE note IS NOT NULL;
    CREATE VIEW public.busy_orders AS SELECT id, item FROM public.orders WHERE mood = 'busy';
    CREATE FUNCTION public.order_count() RETURNS bigint LANGUAGE sql STABLE AS 'SELECT count(*) FROM public.orders';
    COMMENT ON TABLE public.orders IS 'what was ordered';
    RESET ROLE;
  `);
  token = await fx.gw.token("schema-reader", ["readers"]);
});
afterAll(async () => fx?.stop());

async function pgDump(
  conninfo: string,
  password: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: "10" };
  return run("pg_dump", ["--schema-only", "--no-owner", conninfo], { env, maxBuffer: 16 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

describe("pg_dump --schema-only through the gateway", () => {
  it("succeeds under a read policy and dumps what a direct pg_dump of the same role dumps", async () => {
    const through = await pgDump(fx.gw.conninfo(), token);
    expect(through.stderr).toBe("");
    expect(through.code).toBe(0);
    const { host, port, appUser, appPassword, appDatabase } = fx.cluster;
    const direct = await pgDump(
      `host=${host} port=${port} user=${appUser} dbname=${appDatabase}`,
      appPassword,
    );
    expect(direct.code).toBe(0);
    expect(through.stdout).toContain("CREATE TABLE public.orders");
    expect(through.stdout).toContain("CREATE VIEW public.busy_orders");
    // pg_dump >= 15.14 fences its output with a random \restrict key; everything else must be identical.
    const unfenced = (dump: string) => dump.replace(/^\\(un)?restrict \S+$/gm, "");
    expect(unfenced(through.stdout)).toBe(unfenced(direct.stdout));
  });

  it("records every statement of the dump as allowed, and only as reads, settings and session control", async () => {
    const admin = await fx.gw.token("auditor", ["latch-admins"]);
    const response = await fetch(
      `${fx.gw.adminUrl}/api/audit?kind=operation&subject=schema-reader&limit=1000`,
      {
        headers: { authorization: `Bearer ${admin}` },
      },
    );
    type Recorded = { data: { statements: { verb: string }[]; verdict: { decision: string } } };
    const { events } = (await response.json()) as { events: Recorded[] };
    expect(events.length).toBeGreaterThan(20);
    expect(new Set(events.map((event) => event.data.verdict.decision))).toEqual(new Set(["allow"]));
    const verbs = new Set(
      events.flatMap((event) => event.data.statements.map((statement) => statement.verb)),
    );
    expect(verbs).toContain("sql:select");
    expect(verbs).toContain("sql:set");
    for (const verb of verbs)
      expect(["sql:select", "sql:session", "sql:set", "sql:prepare", "sql:execute"]).toContain(verb);
  });
});
