import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import pg from "pg";
import type { Logger } from "pino";
import type { PostgresConnectionConfig } from "../config/schema.js";
import { resolveSecret } from "../config/secrets.js";
import { LatchError } from "../errors.js";
import { parseDuration } from "../identity/parse-duration.js";
import type { AuditEventInput } from "../store/store.js";
import {
  EPHEMERAL_ROLE_PREFIX,
  ephemeralRoleName,
  parseRoleComment,
  quoteIdentifier,
  quoteLiteral,
  roleComment,
  roleCommentPrefix,
} from "./role-names.js";
import { scramSha256Verifier } from "./scram-verifier.js";

export type EphemeralSettings = NonNullable<PostgresConnectionConfig["ephemeral"]>;

/** Login for one session; lives only in the gateway's memory between CREATE ROLE and the upstream startup. */
export interface EphemeralCredential {
  readonly user: string;
  readonly password: string;
}

export interface PostgresEphemeralRolesOptions {
  readonly connectionName: string;
  readonly connection: PostgresConnectionConfig;
  readonly settings: EphemeralSettings;
  readonly gatewayId: string;
  /** Gateways of this store that are gone: their leftover roles are reaped here too. */
  readonly staleGateways?: () => Promise<ReadonlySet<string>>;
  readonly record: (event: AuditEventInput) => void;
  readonly log: Logger;
}

/** SQLSTATE of DROP ROLE when objects (or privileges) still depend on the role. */
const DEPENDENT_OBJECTS = "2BP01";
const ADMIN_STATEMENT_TIMEOUT_MS = 10_000;

/**
 * Per-session upstream roles for one connection: created when a session starts, dropped when it ends, and
 * leftovers (gateway crash) reaped. The admin connection is a small pool; any failure to create a role is
 * thrown, so the caller refuses the session instead of falling back to a shared login.
 */
export class PostgresEphemeralRoles {
  private readonly pool: pg.Pool;
  /** Roles with a session behind them (or being created): the reaper never touches these. */
  private readonly active = new Map<string, string>();
  private readonly pendingRevokes = new Set<Promise<void>>();
  private readonly ttlMs: number;

  constructor(private readonly options: PostgresEphemeralRolesOptions) {
    const url = new URL(options.connection.upstream);
    const { connection, settings, connectionName } = options;
    this.ttlMs = parseDuration(settings.ttl);
    this.pool = new pg.Pool({
      host: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port === "" ? 5432 : Number(url.port),
      database: decodeURIComponent(url.pathname.replace(/^\//, "")) || decodeURIComponent(url.username),
      user: settings.admin_user,
      // Resolved at each connect: the secret never sits in config objects and may rotate underneath us.
      password: () =>
        resolveSecret(settings.admin_password, `connection ${connectionName} ephemeral.admin_password`),
      ssl:
        connection.tls === "disable"
          ? false
          : {
              rejectUnauthorized: connection.tls === "verify-full",
              ...(connection.ca_file === undefined ? {} : { ca: readFileSync(connection.ca_file) }),
            },
      max: 2,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: parseDuration(connection.connect_timeout),
      statement_timeout: ADMIN_STATEMENT_TIMEOUT_MS,
      application_name: "latch-ephemeral-admin",
    });
    this.pool.on("error", (error) =>
      options.log.warn(
        { connection: connectionName, err: error.message },
        "ephemeral admin connection error",
      ),
    );
  }

  /** Creates the session's role (with exactly the configured memberships) and returns its login. */
  async issue(sessionId: string, subject: string): Promise<EphemeralCredential> {
    const role = ephemeralRoleName(subject, sessionId);
    const password = randomBytes(24).toString("base64url");
    const validUntil = new Date(Date.now() + this.ttlMs).toISOString();
    const grants = this.options.settings.grant_roles;
    this.active.set(role, sessionId);
    try {
      const verifier = await scramSha256Verifier(password);
      const inRole = grants.length === 0 ? "" : ` IN ROLE ${grants.map(quoteIdentifier).join(", ")}`;
      await this.inTransaction(async (client) => {
        await client.query(
          `CREATE ROLE ${quoteIdentifier(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD ${quoteLiteral(verifier)} VALID UNTIL ${quoteLiteral(validUntil)}${inRole}`,
        );
        await client.query(
          `COMMENT ON ROLE ${quoteIdentifier(role)} IS ${quoteLiteral(roleComment(this.options.gatewayId, this.options.connectionName, sessionId))}`,
        );
      });
    } catch (cause) {
      this.active.delete(role);
      this.options.log.warn(
        { connection: this.options.connectionName, role, err: (cause as Error).message },
        "could not create the per-session database user",
      );
      throw new LatchError(
        "upstream_unavailable",
        { name: this.options.connectionName, reason: "could not create the per-session database user" },
        { cause },
      );
    }
    this.options.record({
      kind: "ephemeral_role_created",
      sessionId,
      data: { connection: this.options.connectionName, role, grantRoles: grants, validUntil },
    });
    return { user: role, password };
  }

  /**
   * Ends every backend of the role, then drops it; if objects depend on it, disables it (NOLOGIN, memberships
   * revoked) instead. Never throws: a failure is logged and recorded, and the reaper retries later.
   */
  revoke(
    role: string,
    sessionId: string,
    reason: string,
    by: "session_end" | "reaper" = "session_end",
  ): Promise<void> {
    const work = this.dropOrDisable(role, sessionId, reason, by).finally(() => {
      this.active.delete(role);
      this.pendingRevokes.delete(work);
    });
    this.pendingRevokes.add(work);
    return work;
  }

  /**
   * Drops the roles for this connection whose sessions are gone: this gateway's own without a live session,
   * and those of gateways of this store that stopped sending heartbeats (a replica killed or evicted). Roles
   * of gateways this store never heard of (another deployment on the same upstream) are never touched.
   * Returns how many.
   */
  async reap(): Promise<number> {
    const { rows } = await this.pool.query<{ rolname: string; description: string }>(
      `SELECT r.rolname, d.description
         FROM pg_catalog.pg_roles r
         JOIN pg_catalog.pg_shdescription d
           ON d.objoid = r.oid AND d.classoid = 'pg_catalog.pg_authid'::regclass
        WHERE r.rolname LIKE $1 AND r.rolcanlogin AND starts_with(d.description, 'latch:')`,
      [`${EPHEMERAL_ROLE_PREFIX.replace(/_/g, "\\_")}%`],
    );
    const gone = rows.some((row) => !row.description.startsWith(this.ownPrefix()))
      ? await this.goneGateways()
      : new Set<string>();
    let reaped = 0;
    for (const row of rows) {
      const owner = parseRoleComment(row.description, this.options.connectionName);
      if (owner === undefined) continue;
      const mine = owner.gatewayId === this.options.gatewayId;
      if (mine ? this.active.has(row.rolname) : !gone.has(owner.gatewayId)) continue;
      const why = mine ? "session no longer live on this gateway" : `its gateway ${owner.gatewayId} is gone`;
      await this.revoke(row.rolname, owner.sessionId, why, "reaper");
      reaped++;
    }
    return reaped;
  }

  private ownPrefix(): string {
    return roleCommentPrefix(this.options.gatewayId, this.options.connectionName);
  }

  private async goneGateways(): Promise<ReadonlySet<string>> {
    try {
      return (await this.options.staleGateways?.()) ?? new Set();
    } catch (error) {
      this.options.log.warn(
        { err: error },
        "cannot tell which gateways are gone; reaping this gateway's roles only",
      );
      return new Set();
    }
  }

  /** Waits for revocations in flight, then closes the admin pool. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.pendingRevokes]);
    await this.pool.end();
  }

  private async dropOrDisable(
    role: string,
    sessionId: string,
    reason: string,
    by: "session_end" | "reaper",
  ): Promise<void> {
    const base: Record<string, unknown> = { connection: this.options.connectionName, role, reason, by };
    try {
      // The gateway has already closed its own upstream socket; this ends anything else logged in as the role.
      // It needs pg_signal_backend (or membership in the role): without it the role is still dropped.
      await this.pool.query(
        "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE usename = $1",
        [role],
      );
    } catch (error) {
      base.terminateError = (error as Error).message.slice(0, 300);
    }
    try {
      try {
        await this.pool.query(`DROP ROLE IF EXISTS ${quoteIdentifier(role)}`);
        this.options.record({
          kind: "ephemeral_role_dropped",
          sessionId: sessionId || null,
          data: { ...base, outcome: "dropped" },
        });
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== DEPENDENT_OBJECTS) throw error;
      }
      // Objects owned by (or privileges granted to) the role keep it alive: it can at least never log in again.
      const grants = this.options.settings.grant_roles;
      await this.inTransaction(async (client) => {
        await client.query(`ALTER ROLE ${quoteIdentifier(role)} NOLOGIN`);
        if (grants.length > 0)
          await client.query(
            `REVOKE ${grants.map(quoteIdentifier).join(", ")} FROM ${quoteIdentifier(role)}`,
          );
      });
      this.options.record({
        kind: "ephemeral_role_dropped",
        sessionId: sessionId || null,
        data: {
          ...base,
          outcome: "disabled",
          why: "objects depend on the role: NOLOGIN and memberships revoked",
        },
      });
    } catch (error) {
      this.options.log.error(
        { connection: this.options.connectionName, role, err: (error as Error).message },
        "could not drop the per-session database user; the reaper will retry",
      );
      this.options.record({
        kind: "ephemeral_role_dropped",
        sessionId: sessionId || null,
        data: { ...base, outcome: "failed", error: (error as Error).message.slice(0, 300) },
      });
    }
  }

  private async inTransaction(work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query("BEGIN");
      await work(client);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }
}
