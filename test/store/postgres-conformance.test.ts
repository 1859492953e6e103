import { afterAll } from "vitest";
import { openPostgresStores } from "../../src/store/postgres/open-postgres-stores.js";
import type { Stores } from "../../src/store/stores.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";
import { describeStoreConformance } from "./conformance/store-conformance.js";

/**
 * The shared PostgreSQL store (issue 11), opened the way a replica opens it, on a real throwaway cluster: a
 * fresh database per case, migrated at open, dropped after.
 */
let cluster: Promise<PgCluster> | undefined;
let databases = 0;
const clusterOnce = () => {
  cluster ??= startPgCluster({ auth: "trust" });
  return cluster;
};
afterAll(async () => {
  await (await cluster)?.stop();
}, 60_000);

describeStoreConformance("PostgreSQL (shared by replicas)", {
  async create() {
    const pg = await clusterOnce();
    const database = `latch_conformance_${process.pid}_${++databases}`;
    await pg.query(`CREATE DATABASE ${database} ENCODING 'UTF8' TEMPLATE template0`);
    const store = {
      url: `postgres://postgres@127.0.0.1:${pg.port}/${database}`,
      tls: "disable" as const,
      pool_size: 4,
    };
    let stores: Stores = await openPostgresStores(store, { gatewayId: "conformance" });
    return {
      stores,
      async reopen() {
        await stores.close();
        stores = await openPostgresStores(store, { gatewayId: "conformance" });
        return stores;
      },
      async destroy() {
        await stores.close();
        await pg.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      },
    };
  },
});
