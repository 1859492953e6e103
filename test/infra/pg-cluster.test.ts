import { existsSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";

async function connect(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client({ connectionTimeoutMillis: 5000, ...config });
  await client.connect();
  return client;
}

describe("startPgCluster (scram-sha-256)", () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await startPgCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("lets the app role in over TCP with SCRAM and the right password", async () => {
    const client = await connect({
      host: cluster.host,
      port: cluster.port,
      user: cluster.appUser,
      password: cluster.appPassword,
      database: cluster.appDatabase,
    });
    try {
      const { rows } = await client.query(
        "SELECT current_user AS who, current_database() AS db, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser",
      );
      expect(rows[0]).toEqual({ who: "app_user", db: "app", superuser: false });
    } finally {
      await client.end();
    }
  });

  it("stores the password as a SCRAM verifier and requires it on TCP", async () => {
    const { rows } = await cluster.query("SELECT rolpassword FROM pg_authid WHERE rolname = $1", [
      cluster.appUser,
    ]);
    expect(rows[0].rolpassword).toMatch(/^SCRAM-SHA-256\$/);
    const hba = await cluster.query("SELECT type, auth_method FROM pg_hba_file_rules WHERE type = 'host'");
    expect(hba.rows).toEqual([{ type: "host", auth_method: "scram-sha-256" }]);
  });

  it("rejects a wrong password with 28P01", async () => {
    const attempt = connect({
      host: cluster.host,
      port: cluster.port,
      user: cluster.appUser,
      password: `${cluster.appPassword}x`,
      database: cluster.appDatabase,
    });
    await expect(attempt).rejects.toMatchObject({ code: "28P01" });
  });

  it("gives the superuser URL a working password too", async () => {
    const client = await connect({ connectionString: cluster.superuserUrl });
    try {
      const { rows } = await client.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user");
      expect(rows[0].rolsuper).toBe(true);
    } finally {
      await client.end();
    }
  });

  it("lets the app role own and write its database", async () => {
    const client = await connect({
      host: cluster.host,
      port: cluster.port,
      user: cluster.appUser,
      password: cluster.appPassword,
      database: cluster.appDatabase,
    });
    try {
      await client.query("CREATE TABLE notes (id int PRIMARY KEY, body text)");
      await client.query("INSERT INTO notes VALUES (1, 'hello')");
      const { rows } = await cluster.query(
        "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1",
        [cluster.appDatabase],
      );
      expect(rows).toEqual([{ owner: "app_user" }]);
      const written = await client.query("SELECT body FROM notes WHERE id = 1");
      expect(written.rows).toEqual([{ body: "hello" }]);
    } finally {
      await client.end();
    }
  });
});

describe("startPgCluster variants", () => {
  it("md5: stores an md5 hash and authenticates with it", async () => {
    const cluster = await startPgCluster({ auth: "md5" });
    try {
      const { rows } = await cluster.query("SELECT rolpassword FROM pg_authid WHERE rolname = 'app_user'");
      expect(rows[0].rolpassword).toMatch(/^md5[0-9a-f]{32}$/);
      const good = await connect({
        host: cluster.host,
        port: cluster.port,
        user: cluster.appUser,
        password: cluster.appPassword,
        database: cluster.appDatabase,
      });
      await good.end();
      await expect(
        connect({
          host: cluster.host,
          port: cluster.port,
          user: cluster.appUser,
          password: "wrong",
          database: "app",
        }),
      ).rejects.toMatchObject({ code: "28P01" });
    } finally {
      await cluster.stop();
    }
  });

  it("ssl: serves TLS with a certificate valid for 127.0.0.1, and stop() removes the data dir", async () => {
    const cluster = await startPgCluster({ ssl: true });
    expect(cluster.sslCertFile).toBeDefined();
    const { readFile } = await import("node:fs/promises");
    const ca = await readFile(cluster.sslCertFile!, "utf8");
    const client = await connect({
      host: cluster.host,
      port: cluster.port,
      user: cluster.appUser,
      password: cluster.appPassword,
      database: cluster.appDatabase,
      ssl: { ca, rejectUnauthorized: true },
    });
    try {
      const { rows } = await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
      expect(rows[0].ssl).toBe(true);
    } finally {
      await client.end();
    }
    expect(existsSync(cluster.dataDir)).toBe(true);
    await cluster.stop();
    await cluster.stop(); // idempotent
    expect(existsSync(cluster.dataDir)).toBe(false);
    await expect(
      connect({ host: cluster.host, port: cluster.port, user: "app_user", password: "x", database: "app" }),
    ).rejects.toThrow();
  });
});
