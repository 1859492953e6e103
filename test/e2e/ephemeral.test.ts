import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresConnectionSchema } from "../../src/config/postgres-connection-schema.js";
import { configSchema } from "../../src/config/schema.js";
import { PostgresEphemeralRoles } from "../../src/credentials/postgres-ephemeral.js";
import { scramSlot, upstreamScramKeys } from "../../src/protocols/postgres/scram-key-cache.js";
import { startGateway } from "../../src/server/start-gateway.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";
import { startTestGateway, type TestGateway } from "../support/test-gateway.js";

/**
 * Per-session upstream roles, session limits, kill and principal blocking against a real SCRAM PostgreSQL:
 * the ground truth is always read from the catalog (pg_roles, pg_auth_members, pg_stat_activity).
 */

const POLICY = `
@id("agents-everything")
permit(principal in Group::"agents", action, resource);
`;
const ADMIN_ENV = "LATCH_TEST_EPHEMERAL_ADMIN_PW";
const WRONG_ENV = "LATCH_TEST_EPHEMERAL_WRONG_PW";
const ROLE_NAME = /^latch_[a-z0-9_]{1,20}_[0-9a-f]{8}$/;

/** The fixture's shape, built here because the admin role must exist before the gateway starts. */
let fx: {
  cluster: PgCluster;
  gw: TestGateway;
  direct(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
};
let pool: pg.Pool;
let adminToken: string;

function connection(port: number, extra: Record<string, unknown> = {}, passwordEnv = ADMIN_ENV) {
  return {
    type: "postgres",
    upstream: `postgres://app_user@127.0.0.1:${port}/app`,
    ephemeral: {
      admin_user: "latch_admin",
      admin_password: { env: passwordEnv },
      grant_roles: ["app_readers"],
      ttl: "1h",
    },
    ...extra,
  };
}

beforeAll(async () => {
  process.env[ADMIN_ENV] = "admin-pw-'quoted\"";
  process.env[WRONG_ENV] = "not-the-password";
  const cluster = await startPgCluster({ auth: "scram-sha-256" });
  const url = new URL(cluster.superuserUrl);
  url.pathname = `/${cluster.appDatabase}`;
  pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  pool.on("error", () => {});
  const direct = (sql: string, params?: unknown[]) => pool.query(sql, params);
  await direct(`
    SET ROLE app_user;
    CREATE TABLE public.items (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO public.items SELECT g, 'item ' || g FROM generate_series(1, 20) g;
    CREATE TABLE public.secrets (id int PRIMARY KEY, v text);
    RESET ROLE;
    CREATE ROLE latch_admin LOGIN CREATEROLE PASSWORD ${literal(process.env[ADMIN_ENV]!)};
    GRANT pg_signal_backend TO latch_admin;
    CREATE ROLE latch_weak_admin LOGIN PASSWORD ${literal(process.env[ADMIN_ENV]!)};
    CREATE ROLE app_readers NOLOGIN;
    GRANT SELECT ON public.items TO app_readers;
  `);
  const gw = await startTestGateway(cluster, {
    policy: POLICY,
    overrides: {
      connections: {
        app: connection(cluster.port),
        short: connection(cluster.port, { max_session: "1s" }),
        idle: connection(cluster.port, { idle_timeout: "700ms" }),
        badadmin: connection(cluster.port, {}, WRONG_ENV),
        weak: {
          ...connection(cluster.port),
          ephemeral: { ...connection(cluster.port).ephemeral, admin_user: "latch_weak_admin" },
        },
      },
    },
  });
  fx = { cluster, gw, direct };
  adminToken = await gw.token("admin", ["latch-admins"]);
}, 60_000);

afterAll(async () => {
  await fx?.gw.stop();
  // Every role the gateway created is gone once it has stopped.
  const { rows } = await pool.query(
    "SELECT rolname FROM pg_roles WHERE rolname LIKE 'latch\\_%' AND rolname NOT IN ('latch_admin', 'latch_weak_admin')",
  );
  await pool.end();
  await fx?.cluster.stop();
  expect(rows).toEqual([]);
});

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

async function rolesOf(member: string): Promise<string[]> {
  const { rows } = await fx.direct(
    `SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
      JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = $1 ORDER BY 1`,
    [member],
  );
  return rows.map((row) => row.rolname as string);
}

async function roleExists(name: string): Promise<boolean> {
  const { rowCount } = await fx.direct("SELECT 1 FROM pg_roles WHERE rolname = $1", [name]);
  return rowCount === 1;
}

async function backendsOf(name: string): Promise<number> {
  const { rows } = await fx.direct("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1", [
    name,
  ]);
  return rows[0].n as number;
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Connects and records the asynchronous FATAL the gateway sends when it ends the session. */
async function connectWatching(
  subject: string,
  database = "app",
): Promise<{ client: pg.Client; errors: (Error & { code?: string })[]; role: string }> {
  const client = await fx.gw.connect(await fx.gw.token(subject, ["agents"]), database);
  const errors: (Error & { code?: string })[] = [];
  client.on("error", (error) => errors.push(error));
  const { rows } = await client.query("SELECT current_user AS role");
  return { client, errors, role: rows[0].role as string };
}

async function liveSessionId(subject: string): Promise<string> {
  const response = await fetch(
    `${fx.gw.adminUrl}/api/sessions?subject=${encodeURIComponent(subject)}&active=true`,
    { headers: { authorization: `Bearer ${adminToken}` } },
  );
  const body = (await response.json()) as { sessions: { id: string }[] };
  expect(body.sessions).toHaveLength(1);
  return body.sessions[0]!.id;
}

describe("ephemeral per-session roles", () => {
  it("connects as a fresh role with exactly the granted roles and drops it when the client quits", async () => {
    const { client, role } = await connectWatching("alice@example.com");
    expect(role).toMatch(ROLE_NAME);
    expect(role.startsWith("latch_alice_example_com_")).toBe(true);
    expect(await rolesOf(role)).toEqual(["app_readers"]);
    const { rows: canLogin } = await fx.direct(
      "SELECT rolcanlogin, rolvaliduntil > now() + interval '50 minutes' AS valid FROM pg_roles WHERE rolname = $1",
      [role],
    );
    expect(canLogin[0]).toEqual({ rolcanlogin: true, valid: true });
    // A one-off password is never seen again: its SCRAM keys are not kept (a static password's are).
    expect(upstreamScramKeys.has(scramSlot("app", "127.0.0.1", fx.cluster.port, role))).toBe(false);
    const { rows } = await client.query("SELECT count(*)::int AS n FROM public.items");
    expect(rows[0].n).toBe(20);
    await expect(client.query("SELECT * FROM public.secrets")).rejects.toMatchObject({ code: "42501" });
    await client.end();
    await eventually(async () => !(await roleExists(role)));
    await fx.gw.gateway.flushAudit();
    const created = await fx.gw.gateway.audit.events({ kind: "ephemeral_role_created" });
    const dropped = await fx.gw.gateway.audit.events({ kind: "ephemeral_role_dropped" });
    expect(created.some((event) => event.data.role === role)).toBe(true);
    expect(dropped.find((event) => event.data.role === role)?.data.outcome).toBe("dropped");
    // The credential is never on record.
    expect(JSON.stringify([...created, ...dropped])).not.toMatch(/password|SCRAM/i);
  });

  it("handles a subject with quotes, unicode and 200 characters without injection", async () => {
    const subject = `x"; DROP ROLE latch_admin; --'ü${"ß".repeat(190)}`;
    expect(subject.length).toBeGreaterThanOrEqual(200);
    const { client, role } = await connectWatching(subject);
    expect(role).toMatch(ROLE_NAME);
    expect(Buffer.byteLength(role)).toBeLessThanOrEqual(63);
    expect(await roleExists("latch_admin")).toBe(true);
    await client.end();
    await eventually(async () => !(await roleExists(role))).catch(async (error) => {
      await fx.gw.gateway.flushAudit();
      console.log(
        JSON.stringify(
          (await fx.gw.gateway.audit.events({ kind: "ephemeral_role_dropped" })).map((e) => e.data),
        ),
      );
      throw error;
    });
  });

  it("kills a session from the admin API: backend terminated, client told, role dropped", async () => {
    const { client, errors, role } = await connectWatching("kill-me");
    expect(await backendsOf(role)).toBe(1);
    const id = await liveSessionId("kill-me");
    const response = await fetch(`${fx.gw.adminUrl}/api/sessions/${id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(response.status).toBe(200);
    await eventually(async () => errors.length > 0);
    expect(errors[0]!.message).toContain("session terminated by an administrator");
    expect(errors[0]!.code).toBe("57P01");
    await eventually(async () => (await backendsOf(role)) === 0 && !(await roleExists(role)));
    await client.end().catch(() => {});
    const missing = await fetch(`${fx.gw.adminUrl}/api/sessions/${id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(missing.status).toBe(404);
  });

  it("ends a running session at max_session and at idle_timeout", async () => {
    const started = Date.now();
    const capped = await connectWatching("short-lived", "short");
    await eventually(async () => capped.errors.length > 0, 4000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(capped.errors[0]!.message).toContain("maximum session duration (1s)");
    await eventually(async () => !(await roleExists(capped.role)));
    await capped.client.end().catch(() => {});

    const idle = await connectWatching("idler", "idle");
    // Traffic keeps it open past the idle timeout...
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await idle.client.query("SELECT 1");
    }
    expect(idle.errors).toHaveLength(0);
    // ...silence ends it.
    await eventually(async () => idle.errors.length > 0, 3000);
    expect(idle.errors[0]!.message).toContain("idle timeout (700ms)");
    await idle.client.end().catch(() => {});
  });

  it("drops the role when the session's token expires", async () => {
    const client = await fx.gw.connect(await fx.gw.token("expiring", ["agents"], 2));
    const errors: Error[] = [];
    client.on("error", (error) => errors.push(error));
    const { rows } = await client.query("SELECT current_user AS role");
    const role = rows[0].role as string;
    expect(await roleExists(role)).toBe(true);
    await eventually(async () => errors.length > 0, 4000);
    expect(errors[0]!.message).toContain("has expired");
    await eventually(async () => !(await roleExists(role)));
    await client.end().catch(() => {});
  });

  it("refuses the session with 08006 when the admin credential is wrong, creating nothing", async () => {
    const token = await fx.gw.token("eve", ["agents"]);
    await expect(fx.gw.connect(token, "badadmin")).rejects.toMatchObject({
      code: "08006",
      message: expect.stringContaining("could not create the per-session database user"),
    });
    const { rows } = await fx.direct(
      "SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'latch\\_eve\\_%'",
    );
    expect(rows[0].n).toBe(0);
    await fx.gw.gateway.flushAudit();
    const ends = await fx.gw.gateway.audit.events({ kind: "session_end", subject: "eve" });
    expect(ends.map((event) => event.data.reason)).toEqual([
      expect.stringContaining("could not create the per-session database user"),
    ]);
  });

  it("refuses the session with 08006 when the upstream refuses CREATE ROLE", async () => {
    const token = await fx.gw.token("weakling", ["agents"]);
    await expect(fx.gw.connect(token, "weak")).rejects.toMatchObject({
      code: "08006",
      message: expect.stringContaining("could not create the per-session database user"),
    });
    const { rows } = await fx.direct(
      "SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'latch\\_weakling\\_%'",
    );
    expect(rows[0].n).toBe(0);
  });

  it("reaps a crashed gateway's roles when it starts again", async () => {
    // A gateway that died with -9 leaves its role behind; the same data_dir (same gateway id) starts again.
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "latch-reap-"));
    writeFileSync(path.join(dataDir, "gateway-id"), "00112233aabbccdd\n");
    await fx.direct(`
      CREATE ROLE latch_crashed_0badf00d LOGIN;
      COMMENT ON ROLE latch_crashed_0badf00d IS 'latch:00112233aabbccdd:app:0badf00d-0000-0000-0000-000000000000';
    `);
    const gateway = await startGateway(
      {
        config: configSchema.parse({
          listen: { postgres: "127.0.0.1:0", admin: "127.0.0.1:0" },
          data_dir: dataDir,
          identity: { dev_issuer: true },
          policies: path.join(fx.gw.dataDir, "policies"),
          log_level: "silent",
          connections: { app: connection(fx.cluster.port) },
        }),
        file: undefined,
        baseDir: dataDir,
      },
      { log: pino({ level: "silent" }) },
    );
    try {
      expect(await roleExists("latch_crashed_0badf00d")).toBe(false);
      await gateway.flushAudit();
      expect(await gateway.audit.events({ kind: "ephemeral_role_dropped" })).toEqual([
        expect.objectContaining({
          data: expect.objectContaining({ role: "latch_crashed_0badf00d", by: "reaper", outcome: "dropped" }),
        }),
      ]);
    } finally {
      await gateway.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("reaps leftover roles of this gateway only", async () => {
    const gatewayId = readFileSync(path.join(fx.gw.dataDir, "gateway-id"), "utf8").trim();
    await fx.direct(`
      CREATE ROLE latch_crashed_deadbeef LOGIN IN ROLE app_readers;
      COMMENT ON ROLE latch_crashed_deadbeef IS 'latch:${gatewayId}:app:deadbeef-0000-0000-0000-000000000000';
      CREATE ROLE latch_foreign_12345678 LOGIN;
      CREATE ROLE latch_othergw_12345678 LOGIN;
      COMMENT ON ROLE latch_othergw_12345678 IS 'latch:0123456789abcdef:app:12345678';
    `);
    const recorded: unknown[] = [];
    const reaper = new PostgresEphemeralRoles({
      connectionName: "app",
      connection: postgresConnectionSchema.parse(connection(fx.cluster.port)),
      settings: {
        admin_user: "latch_admin",
        admin_password: { env: ADMIN_ENV },
        grant_roles: ["app_readers"],
        ttl: "1h",
      },
      gatewayId,
      record: (event) => recorded.push(event),
      log: pino({ level: "silent" }),
    });
    try {
      expect(await reaper.reap()).toBe(1);
    } finally {
      await reaper.close();
    }
    expect(await roleExists("latch_crashed_deadbeef")).toBe(false);
    expect(await roleExists("latch_foreign_12345678")).toBe(true);
    expect(await roleExists("latch_othergw_12345678")).toBe(true);
    expect(recorded).toEqual([
      expect.objectContaining({
        kind: "ephemeral_role_dropped",
        data: expect.objectContaining({ role: "latch_crashed_deadbeef", by: "reaper", outcome: "dropped" }),
      }),
    ]);
    await fx.direct("DROP ROLE latch_foreign_12345678; DROP ROLE latch_othergw_12345678");
  });

  it("disables instead of dropping when objects depend on the role", async () => {
    const { client, role } = await connectWatching("owner");
    await fx.direct(`GRANT CREATE ON SCHEMA public TO app_readers`);
    await client.query("CREATE TABLE public.owned_by_ephemeral (id int)");
    await client.end();
    await eventually(async () => {
      const { rows } = await fx.direct("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", [role]);
      return rows[0]?.rolcanlogin === false;
    });
    expect(await rolesOf(role)).toEqual([]);
    await fx.direct(
      `REVOKE CREATE ON SCHEMA public FROM app_readers; DROP TABLE public.owned_by_ephemeral; DROP ROLE "${role}"`,
    );
  });

  it("blocks a principal: live sessions end before the API answers, new logins get 28000, unblock restores access", async () => {
    const { client, errors } = await connectWatching("mallory");
    const response = await fetch(`${fx.gw.adminUrl}/api/principals/mallory/block`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "test" }),
    });
    expect(response.status).toBe(200);
    // The block ends live sessions before answering; the client's read of the FATAL error may trail a little.
    await eventually(async () => errors.length > 0, 10_000);
    await client.end().catch(() => {});
    const token = await fx.gw.token("mallory", ["agents"]);
    await expect(fx.gw.connect(token)).rejects.toMatchObject({
      code: "28000",
      message: expect.stringContaining("principal is blocked"),
    });
    const list = await fetch(`${fx.gw.adminUrl}/api/principals/blocked`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(
      ((await list.json()) as { blocked: { principal: string }[] }).blocked.map((b) => b.principal),
    ).toEqual(["mallory"]);
    const unblock = await fetch(`${fx.gw.adminUrl}/api/principals/mallory/block`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(unblock.status).toBe(200);
    const again = await fx.gw.connect(token);
    await again.end();
  });
});
