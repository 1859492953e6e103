/**
 * Per-session MySQL/MariaDB users for one connection: created when a session starts (random name and password,
 * the configured roles granted and made default), locked at `ttl`, dropped when the session ends (its other
 * connections killed first, ACCOUNT LOCK when DROP fails), and leftovers of a crash reaped. Any failure to
 * create a user is thrown, so the session is refused instead of falling back to a shared login.
 *
 * Lives beside the protocol (not in credentials/) because it talks through the protocol's own codec.
 */
import type { Logger } from "pino";
import type { MysqlConnectionConfig } from "../../config/schema.js";
import { resolveSecret } from "../../config/secrets.js";
import {
  createUserStatements,
  ephemeralMysqlPassword,
  ephemeralMysqlUserName,
  gatewayOfMysqlUser,
  mysqlAccount,
  mysqlPlainLiteral,
  mysqlRoleIdentifier,
} from "../../credentials/mysql-user-names.js";
import { LatchError } from "../../errors.js";
import { parseDuration } from "../../identity/parse-duration.js";
import type { Admitter } from "../../pipeline/pipeline-types.js";
import { type Clock, systemClock } from "../../session/clock.js";
import { type AdminResult, MysqlAdminConnection } from "./admin-client.js";
import { mysqlUpstreamTarget } from "./upstream.js";

export type MysqlEphemeralSettings = NonNullable<MysqlConnectionConfig["ephemeral"]>;

/** Login for one session; lives only in the gateway's memory between CREATE USER and the upstream login. */
export interface MysqlEphemeralCredential {
  readonly user: string;
  readonly password: string;
}

export interface MysqlEphemeralUsersOptions {
  readonly connectionName: string;
  readonly connection: MysqlConnectionConfig;
  readonly settings: MysqlEphemeralSettings;
  readonly gatewayId: string;
  /**
   * Users with a session behind them (or being created), shared by every connection of this gateway: two
   * connections may point at one server, and one's reaper must not take the other's live users.
   */
  readonly live: Set<string>;
  /** Gateways of this store that are gone: their leftover users are reaped here too. */
  readonly staleGateways?: () => Promise<ReadonlySet<string>>;
  readonly record: Admitter["record"];
  readonly log: Logger;
  /** When the ttl lock falls due (tests move it themselves). */
  readonly clock?: Clock;
  /** How the admin connection is opened; tests wrap the real one to inject server failures. */
  readonly openAdmin?: (open: () => Promise<AdminLink>) => Promise<AdminLink>;
}

/** What the users need of an admin connection. */
export interface AdminLink {
  readonly usable: boolean;
  query(sql: string): Promise<AdminResult>;
  close(): void;
}

const ADMIN_QUERY_TIMEOUT_MS = 10_000;
const ADMIN_IDLE_CLOSE_MS = 30_000;

interface ServerFacts {
  readonly dialect: "mariadb" | "mysql";
  /** The host part of the admin login as the server sees it: where the gateway connects from. */
  readonly gatewayHost: string;
}

export class MysqlEphemeralUsers {
  private admin: Promise<AdminLink> | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private facts: ServerFacts | undefined;
  /** Host part of each user this instance created and has not dropped yet. */
  private readonly hosts = new Map<string, string>();
  /** Cancels the ttl lock of each user not dropped yet. */
  private readonly lockTimers = new Map<string, () => void>();
  /** The session each user was made for: the ttl lock's audit event names it. */
  private readonly sessions = new Map<string, string>();
  private readonly revoking = new Map<string, Promise<void>>();
  private readonly ttlMs: number;
  private readonly clock: Clock;

  constructor(private readonly options: MysqlEphemeralUsersOptions) {
    this.ttlMs = parseDuration(options.settings.ttl);
    this.clock = options.clock ?? systemClock;
  }

  /** Creates the session's user with exactly the configured roles as defaults, and returns its login. */
  async issue(sessionId: string): Promise<MysqlEphemeralCredential> {
    const { connectionName, settings, gatewayId, live } = this.options;
    const user = ephemeralMysqlUserName(gatewayId);
    const password = ephemeralMysqlPassword();
    live.add(user);
    let created = false;
    try {
      const facts = await this.serverFacts();
      if (facts.dialect === "mariadb" && settings.grant_roles.length > 1)
        throw new LatchError("config_invalid", {
          detail: `connection ${connectionName}: MariaDB gives a user one default role; grant_roles lists ${settings.grant_roles.length} (make one role that holds the others)`,
        });
      const host = settings.host ?? facts.gatewayHost;
      const account = mysqlAccount(user, host);
      for (const [index, statement] of createUserStatements(
        facts.dialect,
        account,
        password,
        settings.grant_roles,
      ).entries()) {
        await this.run(statement);
        if (index === 0) {
          created = true;
          this.hosts.set(user, host);
        }
      }
    } catch (failure) {
      // Never a half-made user: whatever was created goes again (or the reaper takes it).
      if (created) await this.revoke(user, sessionId, "its creation failed");
      else live.delete(user);
      if (failure instanceof LatchError && failure.code === "config_invalid") throw failure;
      // A server error may quote the statement it failed on (1064 does): the password is cut out of it
      // before the message goes anywhere, and the original error is not kept as the cause.
      const reason = String((failure as Error).message ?? failure)
        .split(password)
        .join("***");
      this.options.log.warn(
        { connection: connectionName, user, err: reason },
        "could not create the per-session database user",
      );
      throw new LatchError(
        "upstream_unavailable",
        { name: connectionName, reason: "could not create the per-session database user" },
        { cause: new Error(reason) },
      );
    }
    const lockAt = new Date(this.clock.now() + this.ttlMs).toISOString();
    this.sessions.set(user, sessionId);
    this.lockTimers.set(
      user,
      this.clock.after(this.ttlMs, () => void this.lock(user)),
    );
    this.options.record({
      kind: "ephemeral_role_created",
      sessionId,
      data: {
        connection: connectionName,
        role: user,
        host: this.hosts.get(user),
        grantRoles: settings.grant_roles,
        validUntil: lockAt,
      },
    });
    return { user, password };
  }

  /**
   * Kills every connection of the user, then drops it; if DROP fails, locks it and takes its roles. Never
   * throws: a failure is logged and recorded, and the reaper retries later.
   */
  revoke(
    user: string,
    sessionId: string | null,
    reason: string,
    by: "session_end" | "reaper" = "session_end",
    host = this.hosts.get(user),
  ): Promise<void> {
    const running = this.revoking.get(user);
    if (running !== undefined) return running;
    this.lockTimers.get(user)?.();
    this.lockTimers.delete(user);
    const work = this.dropOrLock(user, host ?? this.facts?.gatewayHost, sessionId, reason, by).finally(() => {
      this.options.live.delete(user);
      this.sessions.delete(user);
      this.hosts.delete(user);
      this.revoking.delete(user);
    });
    this.revoking.set(user, work);
    return work;
  }

  /**
   * Drops the users of this gateway without a live session, and those of gateways of this store known to be
   * gone (a replica killed or evicted). Users of gateways this store never heard of (another deployment on the
   * same server) are never touched. Returns how many.
   */
  async reap(): Promise<number> {
    const { rows } = await this.run(
      "SELECT User, Host FROM mysql.user WHERE User LIKE 'latch!_%' ESCAPE '!'",
    );
    const owners = rows.map(([user, host]) => ({
      user: user ?? "",
      host: host ?? "",
      gateway: gatewayOfMysqlUser(user ?? ""),
    }));
    const gone = owners.some((o) => o.gateway !== undefined && o.gateway !== this.options.gatewayId)
      ? await this.goneGateways()
      : new Set<string>();
    let reaped = 0;
    for (const { user, host, gateway } of owners) {
      if (gateway === undefined) continue;
      const mine = gateway === this.options.gatewayId;
      if (mine ? this.options.live.has(user) : !gone.has(gateway)) continue;
      const why = mine ? "session no longer live on this gateway" : `its gateway ${gateway} is gone`;
      await this.revoke(user, null, why, "reaper", host);
      reaped++;
    }
    return reaped;
  }

  /** Waits for drops in flight, then closes the admin connection. */
  async close(): Promise<void> {
    for (const cancel of this.lockTimers.values()) cancel();
    this.lockTimers.clear();
    await Promise.allSettled([...this.revoking.values()]);
    clearTimeout(this.idleTimer);
    const admin = this.admin;
    this.admin = undefined;
    (await admin?.catch(() => undefined))?.close();
  }

  /**
   * The ttl backstop, as VALID UNTIL is for PostgreSQL: no new login as this user, the session carries on.
   * Audited either way: a user that should be locked and is not is worth knowing about.
   */
  private async lock(user: string): Promise<void> {
    this.lockTimers.delete(user);
    const host = this.hosts.get(user);
    if (host === undefined) return;
    const data = {
      connection: this.options.connectionName,
      role: user,
      host,
      reason: `its ttl (${this.options.settings.ttl}) passed`,
    };
    const sessionId = this.sessions.get(user) ?? null;
    try {
      await this.run(`ALTER USER ${mysqlAccount(user, host)} ACCOUNT LOCK`);
      this.options.log.info(
        { connection: this.options.connectionName, user },
        "per-session database user locked: its ttl passed",
      );
      this.options.record({ kind: "ephemeral_role_locked", sessionId, data: { ...data, outcome: "locked" } });
    } catch (error) {
      const message = (error as Error).message.slice(0, 300);
      this.options.log.warn(
        { connection: this.options.connectionName, user, err: message },
        "could not lock the per-session database user at its ttl",
      );
      this.options.record({
        kind: "ephemeral_role_locked",
        sessionId,
        data: { ...data, outcome: "failed", error: message },
      });
    }
  }

  private async dropOrLock(
    user: string,
    host: string | undefined,
    sessionId: string | null,
    reason: string,
    by: "session_end" | "reaper",
  ): Promise<void> {
    const base: Record<string, unknown> = { connection: this.options.connectionName, role: user, reason, by };
    const record = (data: Record<string, unknown>) =>
      this.options.record({ kind: "ephemeral_role_dropped", sessionId, data: { ...base, ...data } });
    try {
      if (host === undefined) throw new Error("the user's host is unknown");
      const account = mysqlAccount(user, host);
      const killed = await this.killConnections(user).catch((error: Error) => {
        base.killError = error.message.slice(0, 300);
        return 0;
      });
      if (killed > 0) base.killed = killed;
      try {
        await this.run(`DROP USER IF EXISTS ${account}`);
        record({ outcome: "dropped" });
        return;
      } catch (error) {
        base.dropError = (error as Error).message.slice(0, 300);
      }
      // Something keeps the user (a definer reference, a replication quirk): it can at least never log in again.
      await this.run(`ALTER USER ${account} ACCOUNT LOCK`);
      for (const role of this.options.settings.grant_roles)
        await this.run(`REVOKE ${mysqlRoleIdentifier(role)} FROM ${account}`).catch(() => undefined);
      // A revoked role stays the user's default role on MariaDB until it is cleared.
      const to = this.facts?.dialect === "mysql" ? "TO" : "FOR";
      await this.run(`SET DEFAULT ROLE NONE ${to} ${account}`).catch(() => undefined);
      record({ outcome: "disabled", why: "DROP USER failed: ACCOUNT LOCK and roles revoked" });
    } catch (error) {
      this.options.log.error(
        { connection: this.options.connectionName, user, err: (error as Error).message },
        "could not drop the per-session database user; the reaper will retry",
      );
      record({ outcome: "failed", error: (error as Error).message.slice(0, 300) });
    }
  }

  /** Ends what is still logged in as the user (the gateway's own socket may not be closed yet). */
  private async killConnections(user: string): Promise<number> {
    const { rows } = await this.run(
      `SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ${mysqlPlainLiteral(user)}`,
    );
    let killed = 0;
    for (const [id] of rows) {
      if (typeof id !== "string" || !/^[0-9]+$/.test(id)) continue;
      try {
        await this.run(`KILL CONNECTION ${id}`);
        killed++;
      } catch (error) {
        // 1094: unknown thread, it ended on its own meanwhile.
        if ((error as { errno?: number }).errno !== 1094) throw error;
      }
    }
    return killed;
  }

  private async goneGateways(): Promise<ReadonlySet<string>> {
    try {
      return (await this.options.staleGateways?.()) ?? new Set();
    } catch (error) {
      this.options.log.warn(
        { err: error },
        "cannot tell which gateways are gone; reaping this gateway's users only",
      );
      return new Set();
    }
  }

  private async serverFacts(): Promise<ServerFacts> {
    if (this.facts !== undefined) return this.facts;
    const { rows } = await this.run("SELECT VERSION(), SUBSTRING_INDEX(USER(), '@', -1)");
    const [version, host] = rows[0] ?? [];
    if (!version || !host) throw new Error("the server did not say its version and our host");
    this.facts = { dialect: /mariadb/i.test(version) ? "mariadb" : "mysql", gatewayHost: host };
    return this.facts;
  }

  /** One admin statement on the shared admin connection, (re)opened on demand and closed when idle. */
  private async run(sql: string) {
    clearTimeout(this.idleTimer);
    let admin = await this.connection();
    if (!admin.usable) {
      this.admin = undefined;
      admin = await this.connection();
    }
    try {
      return await admin.query(sql);
    } finally {
      this.idleTimer = setTimeout(() => void this.closeIdle(), ADMIN_IDLE_CLOSE_MS);
      this.idleTimer.unref();
    }
  }

  private connection(): Promise<AdminLink> {
    if (this.admin !== undefined) return this.admin;
    const { connectionName, connection, settings } = this.options;
    const target = mysqlUpstreamTarget(connectionName, connection, parseDuration(connection.connect_timeout));
    const open = (): Promise<AdminLink> =>
      MysqlAdminConnection.open(
        { ...target, user: settings.admin_user },
        // Resolved at each connect: the secret never sits in config objects and may rotate underneath us.
        resolveSecret(settings.admin_password, `connection ${connectionName} ephemeral.admin_password`),
        ADMIN_QUERY_TIMEOUT_MS,
      );
    const opening = this.options.openAdmin?.(open) ?? open();
    this.admin = opening;
    opening.catch(() => {
      if (this.admin === opening) this.admin = undefined;
    });
    return opening;
  }

  private async closeIdle(): Promise<void> {
    if (this.revoking.size > 0) return;
    const admin = this.admin;
    this.admin = undefined;
    (await admin?.catch(() => undefined))?.close();
  }
}
