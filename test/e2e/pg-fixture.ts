import pg from "pg";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";
import { startTestGateway, type TestGateway } from "../support/test-gateway.js";

export interface GatewayFixture {
  readonly cluster: PgCluster;
  readonly gw: TestGateway;
  /** Runs SQL directly against the app database as superuser: the ground truth behind the gateway. */
  direct(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
  stop(): Promise<void>;
}

/** A SCRAM-only throwaway cluster with sample tables owned by the app role, and a gateway in front of it. */
export async function startGatewayFixture(
  options: Parameters<typeof startTestGateway>[1] = {},
): Promise<GatewayFixture> {
  const cluster = await startPgCluster({ auth: "scram-sha-256" });
  const url = new URL(cluster.superuserUrl);
  url.pathname = `/${cluster.appDatabase}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  pool.on("error", () => {});
  const direct = (sql: string, params?: unknown[]) => pool.query(sql, params);
  await direct(`
    SET ROLE ${cluster.appUser};
    CREATE TABLE public.items (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO public.items SELECT g, 'item ' || g FROM generate_series(1, 20) g;
    CREATE TABLE public.secrets (id int PRIMARY KEY, v text);
    INSERT INTO public.secrets VALUES (1, 'top secret');
    RESET ROLE;
  `);
  const gw = await startTestGateway(cluster, options);
  return {
    cluster,
    gw,
    direct,
    async stop() {
      await gw.stop();
      await pool.end();
      await cluster.stop();
    },
  };
}
