import pg from "pg";

/** Where the shared PostgreSQL store lives (discrete fields: with a URL, pg lets its empty password win). */
export interface StoreDatabase {
  port: number;
  user: string;
  password: string;
  database: string;
}

/** Gateway ids registered in the store so far (empty before the first gateway's migration made the table). */
async function gatewayIds(store: StoreDatabase): Promise<Set<string>> {
  const client = new pg.Client({ host: "127.0.0.1", ...store });
  try {
    await client.connect();
    const result = await client.query<{ id: string }>("SELECT id FROM latch_gateways");
    return new Set(result.rows.map((row) => row.id));
  } catch {
    return new Set<string>();
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A readiness check for `latch serve --workers count`, taken before it starts: true once `count` new gateways
 * have sent their first heartbeat to the store. Until then the cluster hands connections to fewer workers.
 */
export async function workersReady(store: StoreDatabase, count: number): Promise<() => Promise<boolean>> {
  const before = await gatewayIds(store);
  return async () => [...(await gatewayIds(store))].filter((id) => !before.has(id)).length >= count;
}
