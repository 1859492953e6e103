/**
 * Per-session users against the machine's real MariaDB, through the gateway's own admin client: present with
 * exactly the configured role while issued, the role's limits enforced by the server, killed and dropped on
 * revoke, and leftovers reaped (this gateway's without a live session, a gone replica's, never a stranger's).
 */
import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mysqlConnectionSchema } from "../../../src/config/mysql-connection-schema.js";
import { MysqlAdminError } from "../../../src/protocols/mysql/admin-client.js";
import {
  MysqlEphemeralUsers,
  type MysqlEphemeralUsersOptions,
} from "../../../src/protocols/mysql/ephemeral-users.js";
import { FakeClock } from "../../support/fake-clock.js";
import { MARIADB, rootConnection, scratchDatabase } from "../../support/mariadb.js";

const tag = randomBytes(3).toString("hex");
const role = `latch_t_reader_${tag}`;
const adminUser = `latch_t_admin_${tag}`;
const adminPassword = `admin-${randomBytes(6).toString("hex")}`;
const gatewayId = randomBytes(8).toString("hex");
const otherGateway = randomBytes(8).toString("hex");
let db: Awaited<ReturnType<typeof scratchDatabase>>;
const events: { kind: string; data?: unknown }[] = [];
const instances: MysqlEphemeralUsers[] = [];

function users(
  options: {
    gateway?: string;
    live?: Set<string>;
    stale?: string[];
    roles?: string[];
    clock?: FakeClock;
    openAdmin?: MysqlEphemeralUsersOptions["openAdmin"];
  } = {},
) {
  const instance = new MysqlEphemeralUsers({
    connectionName: "shop",
    connection: mysqlConnectionSchema.parse({
      type: "mysql",
      upstream: `mysql://nobody@127.0.0.1:3306/${db.name}`,
      ephemeral: {
        admin_user: adminUser,
        admin_password: { env: "LATCH_T_ADMIN_PW" },
        grant_roles: options.roles ?? [role],
      },
    }),
    settings: {
      admin_user: adminUser,
      admin_password: { env: "LATCH_T_ADMIN_PW" },
      grant_roles: options.roles ?? [role],
      ttl: "1h",
    },
    gatewayId: options.gateway ?? gatewayId,
    live: options.live ?? new Set(),
    staleGateways: async () => new Set(options.stale ?? []),
    record: (event) => void events.push(event),
    log: pino({ level: "silent" }),
    clock: options.clock,
    openAdmin: options.openAdmin,
  });
  instances.push(instance);
  return instance;
}

const present = async (user: string) => {
  const root = await rootConnection();
  try {
    const [rows] = await root.query("SELECT User FROM mysql.user WHERE User = ?", [user]);
    return (rows as unknown[]).length === 1;
  } finally {
    await root.end();
  }
};

const login = (user: string, password: string) =>
  mysql.createConnection({ host: MARIADB.host, port: MARIADB.port, user, password, database: db.name });

beforeAll(async () => {
  process.env.LATCH_T_ADMIN_PW = adminPassword;
  db = await scratchDatabase(
    "latch_eph",
    "CREATE TABLE items (id INT PRIMARY KEY); INSERT INTO items VALUES (1), (2);",
  );
  const root = await rootConnection();
  await root.query(`
    CREATE ROLE \`${role}\`;
    GRANT SELECT ON \`${db.name}\`.* TO \`${role}\`;
    CREATE USER '${adminUser}'@'127.0.0.1' IDENTIFIED BY '${adminPassword}';
    GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO '${adminUser}'@'127.0.0.1';
    GRANT SELECT, UPDATE ON mysql.* TO '${adminUser}'@'127.0.0.1';
    GRANT \`${role}\` TO '${adminUser}'@'127.0.0.1' WITH ADMIN OPTION;`);
  await root.end();
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(instances.map((i) => i.close()));
  const root = await rootConnection();
  const [rows] = await root.query("SELECT User, Host FROM mysql.user WHERE User LIKE ? OR User LIKE ?", [
    `latch\\_${gatewayId}\\_%`,
    `latch\\_${otherGateway}\\_%`,
  ]);
  for (const row of rows as { User: string; Host: string }[])
    await root.query("DROP USER IF EXISTS ?@?", [row.User, row.Host]);
  await root.query(`DROP ROLE IF EXISTS \`${role}\``);
  await root.end();
  await db?.drop([`'${adminUser}'@'127.0.0.1'`]);
});

describe("MySQL per-session users (real MariaDB)", () => {
  it("creates a user with the role as default; the server enforces the role; revoke kills and drops it", async () => {
    const eph = users();
    const credential = await eph.issue("session-1");
    expect(credential.user).toMatch(new RegExp(`^latch_${gatewayId}_[0-9a-f]{8}$`));
    expect(await present(credential.user)).toBe(true);

    const client = await login(credential.user, credential.password);
    client.on("error", () => {});
    const [roleRows] = await client.query("SELECT CURRENT_ROLE() AS r");
    expect((roleRows as { r: string }[])[0]!.r).toBe(role);
    const [items] = await client.query("SELECT count(*) AS n FROM items");
    expect((items as { n: number }[])[0]!.n).toBe(2);
    await expect(client.query("INSERT INTO items VALUES (3)")).rejects.toMatchObject({ errno: 1142 });
    await expect(client.query("CREATE USER zz_nope@'%'")).rejects.toMatchObject({ errno: 1227 });
    const [grants] = await client.query("SHOW GRANTS");
    expect(JSON.stringify(grants)).toContain(role);

    await eph.revoke(credential.user, "session-1", "test over");
    expect(await present(credential.user)).toBe(false);
    // Its remaining connection was killed, not left running as a user that no longer exists.
    await expect(client.query("SELECT 1")).rejects.toBeTruthy();
    // 1045, or 1698 when the server tries an anonymous or passwordless account of the same host next.
    const relogin = await login(credential.user, credential.password).then(
      () => undefined,
      (error: { errno?: number }) => error.errno,
    );
    expect([1045, 1698]).toContain(relogin);

    const created = events.find((e) => e.kind === "ephemeral_role_created");
    const dropped = events.find((e) => e.kind === "ephemeral_role_dropped");
    expect(created?.data).toMatchObject({ role: credential.user, grantRoles: [role] });
    expect(dropped?.data).toMatchObject({ role: credential.user, outcome: "dropped", killed: 1 });
    expect(JSON.stringify(events)).not.toContain(credential.password);
  });

  it("reaps this gateway's users without a live session, keeps live ones and strangers'", async () => {
    const live = new Set<string>();
    const crashed = users({ live });
    const leftover = await crashed.issue("session-crashed");
    // A gateway restarted on the same data dir: same id, nothing live.
    const restarted = users();
    const stranger = users({ gateway: otherGateway });
    const strangers = await stranger.issue("session-elsewhere");
    const sameProcess = users({ live });
    const stillLive = await crashed.issue("session-live");
    expect(await sameProcess.reap()).toBe(0); // both are live in this process
    live.delete(leftover.user);
    expect(await sameProcess.reap()).toBe(1);
    expect(await present(leftover.user)).toBe(false);
    expect(await present(stillLive.user)).toBe(true);

    expect(await restarted.reap()).toBe(1); // stillLive: not live in the restarted gateway
    expect(await present(stillLive.user)).toBe(false);
    expect(await present(strangers.user)).toBe(true); // another gateway, not known gone

    const replica = users({ stale: [otherGateway] });
    expect(await replica.reap()).toBe(1);
    expect(await present(strangers.user)).toBe(false);
  });

  it("locks the user at its ttl (no new login) while the logged-in session runs on", async () => {
    const clock = new FakeClock();
    const eph = users({ clock });
    const credential = await eph.issue("session-ttl");
    const session = await login(credential.user, credential.password);
    session.on("error", () => {});
    clock.advance(60 * 60 * 1000 - 1);
    (await login(credential.user, credential.password)).destroy(); // not yet
    clock.advance(1);
    const deadline = Date.now() + 10_000;
    let refusal: unknown;
    while (refusal === undefined && Date.now() < deadline)
      refusal = await login(credential.user, credential.password).then(
        (c) => void c.destroy(),
        (error: unknown) => error,
      );
    expect(refusal).toMatchObject({ errno: 4151 }); // ER_ACCOUNT_HAS_BEEN_LOCKED
    // The lock is on the audit record, with the session the user was made for. The server applies the lock
    // before the gateway reads its OK, so a login can be refused a moment before the event is written.
    const lockedEvents = () => events.filter((event) => event.kind === "ephemeral_role_locked");
    while (lockedEvents().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const locked = lockedEvents();
    expect(locked).toEqual([
      {
        kind: "ephemeral_role_locked",
        sessionId: "session-ttl",
        data: {
          connection: "shop",
          role: credential.user,
          host: expect.any(String),
          reason: "its ttl (1h) passed",
          outcome: "locked",
        },
      },
    ]);
    const [rows] = await session.query("SELECT count(*) AS n FROM items");
    expect((rows as { n: number }[])[0]!.n).toBe(2);
    await eph.revoke(credential.user, "session-ttl", "test over");
    expect(await present(credential.user)).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it("locks the user and takes its role when DROP USER fails (the server refusing is injected)", async () => {
    // MariaDB drops users whatever depends on them, so the failure is made here: the real admin connection,
    // with every DROP USER answered by the error MySQL gives for an account that cannot be dropped.
    const eph = users({
      openAdmin: async (open) => {
        const real = await open();
        return {
          get usable() {
            return real.usable;
          },
          close: () => real.close(),
          query: (sql) =>
            sql.startsWith("DROP USER")
              ? Promise.reject(new MysqlAdminError(1396, "Operation DROP USER failed"))
              : real.query(sql),
        };
      },
    });
    const credential = await eph.issue("session-undroppable");
    await eph.revoke(credential.user, "session-undroppable", "test over");
    expect(await present(credential.user)).toBe(true);
    const relogin = await login(credential.user, credential.password).then(
      () => undefined,
      (error: { errno?: number }) => error.errno,
    );
    expect(relogin).toBe(4151); // ER_ACCOUNT_HAS_BEEN_LOCKED
    const root = await rootConnection();
    const [grants] = await root.query(`SHOW GRANTS FOR '${credential.user}'@'127.0.0.1'`);
    await root.query(`DROP USER '${credential.user}'@'127.0.0.1'`); // what an operator would do next
    await root.end();
    expect(JSON.stringify(grants)).not.toContain(role);
    const dropped = events.filter((e) => e.kind === "ephemeral_role_dropped").at(-1);
    expect(dropped?.data).toMatchObject({ role: credential.user, outcome: "disabled" });
  });

  it("refuses the session when the user cannot be made, and leaves nothing behind", async () => {
    const eph = users({ roles: [`latch_t_missing_${tag}`] });
    await expect(eph.issue("session-bad")).rejects.toMatchObject({ code: "upstream_unavailable" });
    const root = await rootConnection();
    const [rows] = await root.query("SELECT User FROM mysql.user WHERE User LIKE ?", [
      `latch\\_${gatewayId}\\_%`,
    ]);
    await root.end();
    expect(rows).toEqual([]);
  });

  it("refuses more than one default role on MariaDB with a clear error", async () => {
    const eph = users({ roles: [role, `${role}_b`] });
    await expect(eph.issue("session-two")).rejects.toMatchObject({ code: "config_invalid" });
  });
});
