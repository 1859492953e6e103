import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { type PgCluster, startPgCluster } from "./pg-cluster.js";
import { startSamlIdp, type TestSamlIdp } from "./saml-idp.js";
import { startTestGateway, type TestGateway } from "./test-gateway.js";

/** Two in-process gateways on one PostgreSQL store, both trusting one test SAML IdP for the console. */
export interface SamlReplicas {
  readonly cluster: PgCluster;
  readonly idp: TestSamlIdp;
  /** The IdP's files and whatever the test writes; removed by stop(). */
  readonly scratch: string;
  readonly gateways: readonly [TestGateway, TestGateway];
  /** One statement on the shared store database (latch_store), through a connection of its own. */
  storeQuery(sql: string): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

/**
 * Starts a PostgreSQL cluster and a SAML IdP, creates the store database and starts two gateways on it.
 * A start that fails part way stops what it started before rethrowing.
 */
export async function startSamlReplicas(options: {
  /** mkdtemp prefix of the scratch directory, e.g. "latch-console-replicas-". */
  readonly scratchPrefix: string;
  /** The `identity` section, given the scratch directory for files it names (a token-exchange signing key). */
  readonly identity: (scratch: string) => Record<string, unknown>;
  /** Fields of the one console.saml entry beyond the IdP's own (a group or subject prefix). */
  readonly saml: Record<string, unknown>;
  /** More of the `console` section (public_url, oidc providers). */
  readonly console?: Record<string, unknown>;
}): Promise<SamlReplicas> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), options.scratchPrefix));
  let cluster: PgCluster | undefined;
  let idp: TestSamlIdp | undefined;
  const gateways: TestGateway[] = [];
  const stop = async () => {
    for (const gateway of gateways) await gateway.stop().catch(() => undefined);
    await idp?.close();
    await cluster?.stop();
    rmSync(scratch, { recursive: true, force: true });
  };
  try {
    [cluster, idp] = await Promise.all([startPgCluster({ auth: "trust" }), startSamlIdp(scratch)]);
    await cluster.query("CREATE DATABASE latch_store ENCODING 'UTF8' TEMPLATE template0");
    const overrides = {
      store: { url: `postgres://postgres@127.0.0.1:${cluster.port}/latch_store`, tls: "disable" },
      identity: options.identity(scratch),
      console: {
        cookie_secure: false,
        ...options.console,
        saml: [
          {
            id: "idp",
            name: "IdP",
            entry_point: idp.ssoUrl,
            idp_issuer: idp.entityId,
            idp_cert_file: idp.certFile,
            ...options.saml,
          },
        ],
      },
    };
    for (let i = 0; i < 2; i++) gateways.push(await startTestGateway(undefined, { overrides }));
  } catch (error) {
    await stop();
    throw error;
  }
  const port = cluster.port;
  return {
    cluster,
    idp,
    scratch,
    gateways: gateways as [TestGateway, TestGateway],
    storeQuery: async (sql) => {
      const client = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "latch_store" });
      await client.connect();
      try {
        return (await client.query(sql)).rows;
      } finally {
        await client.end();
      }
    },
    stop,
  };
}
