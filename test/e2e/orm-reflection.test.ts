/**
 * Issue 18: an ORM's schema reflection works through Latch under a read policy. SQLAlchemy's Inspector (Debian's
 * python3-sqlalchemy with psycopg2, installed by .ci/run) reflects every table, column, key, index and comment
 * of the app database through the gateway, and gets what it gets directly. Its queries are in
 * test/sql/captured-tool-queries.ts; this runs the tool itself.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "./pg-fixture.js";

const run = promisify(execFile);
let fx: GatewayFixture;

const READER_POLICY = `
permit(principal in Group::"readers", action in Action::"sql:read", resource in Connection::"app");
permit(principal in Group::"readers", action in [Action::"sql:session", Action::"sql:set"], resource in Connection::"app");
`;

/** Prints one JSON document of everything the Inspector reflects (the URL comes from argv). */
const REFLECT = `
import json, sys
import sqlalchemy as sa
engine = sa.create_engine(sys.argv[1])
i = sa.inspect(engine)
tables = sorted(i.get_table_names())
out = {"tables": tables, "views": sorted(i.get_view_names()), "enums": i.get_enums()}
for t in tables:
    out[t] = {
        "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in i.get_columns(t)],
        "pk": i.get_pk_constraint(t)["constrained_columns"],
        "fks": [(f["constrained_columns"], f["referred_table"]) for f in i.get_foreign_keys(t)],
        "indexes": sorted(x["name"] for x in i.get_indexes(t)),
        "comment": i.get_table_comment(t)["text"],
    }
print(json.dumps(out, sort_keys=True))
`;

beforeAll(async () => {
  fx = await startGatewayFixture({ policy: READER_POLICY });
  await fx.direct(`
    SET ROLE ${fx.cluster.appUser};
    CREATE TYPE public.mood AS ENUM ('calm', 'busy');
    CREATE TABLE public.orders (id bigserial PRIMARY KEY, item int REFERENCES public.items (id), mood public.mood);
    CREATE INDEX orders_item ON public.orders (item);
    COMMENT ON TABLE public.orders IS 'what was ordered';
    CREATE VIEW public.busy_orders AS SELECT id FROM public.orders WHERE mood = 'busy';
    RESET ROLE;
  `);
});
afterAll(async () => fx?.stop());

async function reflect(url: string): Promise<unknown> {
  const { stdout } = await run("/usr/bin/python3", ["-c", REFLECT, url], { timeout: 60_000 });
  return JSON.parse(stdout);
}

describe("SQLAlchemy reflection through the gateway", () => {
  it("reflects the schema under a read policy exactly as it does directly", async () => {
    const token = await fx.gw.token("orm-reader", ["readers"]);
    const through = `postgresql+psycopg2://orm-reader:${encodeURIComponent(token)}@127.0.0.1:${fx.gw.port}/app?sslmode=require`;
    const { host, port: directPort, appUser, appPassword, appDatabase } = fx.cluster;
    const direct = `postgresql+psycopg2://${appUser}:${encodeURIComponent(appPassword)}@${host}:${directPort}/${appDatabase}`;
    const viaLatch = (await reflect(through)) as { tables: string[] };
    expect(viaLatch.tables).toEqual(["items", "orders", "secrets"]);
    expect(viaLatch).toEqual(await reflect(direct));
  });
});
