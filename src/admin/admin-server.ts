import Fastify from "fastify";
import type { Logger } from "pino";
import { z } from "zod";
import type { LatchConfig } from "../config/schema.js";
import { isLatchError } from "../errors.js";
import type { TokenVerifier } from "../identity/identity.js";
import { parseDuration } from "../identity/parse-duration.js";
import type { SamlAssertionClaims } from "../identity/saml-assertion.js";
import type { Metrics } from "../observability/metrics.js";
import type { UpstreamCheck } from "../observability/upstream-readiness.js";
import type { ConsoleSessionStore } from "../store/console-session-store.js";
import { logicalEvents } from "../store/logical-events.js";
import type { PendingSignInStore } from "../store/pending-sign-in-store.js";
import { AUDIT_EVENT_KINDS, type AuditHealth, type AuditReader } from "../store/store.js";
import {
  registerTokenExchangeRoutes,
  type TokenExchangeEndpoints,
} from "../token-exchange/token-exchange-routes.js";
import { type ApprovalRoutesDeps, registerApprovalRoutes } from "./approval-routes.js";
import { createCallerAuth } from "./caller-auth.js";
import { defaultConsoleDir, registerConsoleAssets } from "./console-assets.js";
import { createConsoleSessions } from "./console-sessions.js";
import { type McpPinRoutesDeps, registerMcpPinRoutes } from "./mcp-pin-routes.js";
import { registerOidcSignIn } from "./oidc-sign-in.js";
import { createPendingSignIns } from "./pending-sign-ins.js";
import { registerSamlSignIn } from "./saml-sign-in.js";
import { registerSessionRoutes, type SessionRoutesDeps } from "./session-routes.js";

export interface AdminServerDeps {
  readonly config: LatchConfig;
  readonly audit: AuditReader;
  readonly checkStore: () => Promise<void>;
  /** The audit writer's state without I/O (refusing: every operation is denied until it recovers). */
  readonly storeHealth: () => AuditHealth;
  /** The last upstream check of every connection (/readyz); absent: every connection counts as not checked. */
  readonly readiness?: { snapshot(): Readonly<Record<string, UpstreamCheck>> };
  readonly metrics: Metrics;
  /** What /metrics serves; default this process's registry (a worker of `--workers N`: every worker's). */
  readonly scrapeMetrics?: () => Promise<string>;
  readonly verifier: TokenVerifier;
  readonly log: Logger;
  /** Live sessions of every protocol (counted in /healthz). */
  readonly live: { readonly size: number };
  readonly policyCount: () => number;
  /** /api/requests and /api/grants; absent: those routes are not served. */
  readonly approvals?: Pick<ApprovalRoutesDeps, "service" | "judgeUpfront">;
  /** Re-reads the policy directory; an invalid set is refused and the old one stays. */
  readonly reloadPolicies?: () => Promise<{ policies: number; sessionsEnded: number }>;
  /** Session kill and principal blocking (issue 5); absent: those routes are not served. */
  readonly sessionControl?: Omit<SessionRoutesDeps, "authenticate">;
  /** RFC 8693 token exchange and Latch's issuer metadata (identity.token_exchange); absent: not served. */
  readonly tokenExchange?: TokenExchangeEndpoints;
  /** Where console sign-ins are kept (every replica of the store accepts them); default: this process's memory. */
  readonly consoleSessions?: ConsoleSessionStore;
  /** Console single sign-ons in progress (the callback may land on any replica); default: this process's memory. */
  readonly pendingSignIns?: PendingSignInStore;
  /** Used SAML assertion ids (console sign-in replay check, shared by every replica); default: this process's memory. */
  readonly samlAssertionClaims?: SamlAssertionClaims;
  /** Pinned MCP tool definitions (`latch mcp pins`); absent: those routes are not served. */
  readonly mcpPins?: Omit<McpPinRoutesDeps, "authenticate">;
  /** The built console's folder; default dist/console of this package. */
  readonly consoleDir?: string;
}

const sessionQuery = z.strictObject({
  subject: z.string().optional(),
  connection: z.string().optional(),
  active: z.enum(["true", "false"]).optional(),
  protocol: z.string().max(32).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

const auditQuery = z.strictObject({
  session: z.string().optional(),
  kind: z.enum(AUDIT_EVENT_KINDS).optional(),
  subject: z.string().optional(),
  decision: z.enum(["allow", "deny", "approval"]).optional(),
  text: z.string().max(200).optional(),
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

export async function startAdminServer(deps: AdminServerDeps) {
  const app = Fastify({ logger: false, bodyLimit: 1 << 20 });

  const consoleSessions = createConsoleSessions({
    ttlMs: parseDuration(deps.config.console.session_ttl),
    secureCookies: deps.config.console.cookie_secure,
    ...(deps.consoleSessions === undefined ? {} : { store: deps.consoleSessions }),
  });
  const callers = createCallerAuth({
    verifier: deps.verifier,
    adminGroups: deps.config.identity.admin_groups,
    auditorGroups: deps.config.identity.auditor_groups,
    cookieCaller: (request) => consoleSessions.caller(request),
  });
  const { authenticate } = callers;

  // Liveness: is this process serving, and can it record? 503 while the audit log refuses writes (the reason
  // says why; the writer retries on its own and this turns 200 again without a restart).
  app.get("/healthz", async (_request, reply) => {
    let store: "ok" | "unavailable" = "ok";
    try {
      await deps.checkStore();
    } catch {
      store = "unavailable";
    }
    const { refusedSeconds: _total, ...audit } = deps.storeHealth();
    const body = { store, audit, policies: deps.policyCount(), sessions: deps.live.size };
    if (store === "ok" && audit.state === "ok") return { status: "ok", ...body };
    return reply.code(503).send({ status: "unhealthy", ...body });
  });

  // Readiness: each connection's upstream as last checked in the background, and whether the audit log takes
  // writes (without it every operation is denied). 200 when all are ready; ?connection=name for one.
  app.get<{ Querystring: { connection?: string } }>("/readyz", async (request, reply) => {
    const known = Object.keys(deps.config.connections);
    const wanted = request.query.connection;
    if (wanted !== undefined && !known.includes(wanted))
      return reply.code(404).send({ error: "not_found", message: `no connection ${wanted}` });
    const checks = deps.readiness?.snapshot() ?? {};
    const connections: Record<string, UpstreamCheck> = {};
    for (const name of wanted === undefined ? known : [wanted]) {
      connections[name] = checks[name] ?? {
        protocol: deps.config.connections[name]!.type,
        ready: false,
        checkedAt: null,
        latencyMs: null,
        error: "not_checked",
      };
    }
    const audit = deps.storeHealth().state;
    const ready = audit === "ok" && Object.values(connections).every((check) => check.ready);
    return reply
      .code(ready ? 200 : 503)
      .header("cache-control", "no-store")
      .send({ status: ready ? "ready" : "not_ready", audit, connections });
  });

  app.get("/metrics", async (_request, reply) => {
    reply.header("content-type", deps.metrics.registry.contentType);
    return (deps.scrapeMetrics ?? (() => deps.metrics.registry.metrics()))();
  });

  registerConsoleAssets(app, deps.consoleDir ?? defaultConsoleDir());
  const pending = createPendingSignIns({
    secureCookies: deps.config.console.cookie_secure,
    ...(deps.pendingSignIns === undefined ? {} : { store: deps.pendingSignIns }),
  });
  registerOidcSignIn(app, { config: deps.config, sessions: consoleSessions, pending, log: deps.log });
  registerSamlSignIn(app, {
    config: deps.config,
    sessions: consoleSessions,
    pending,
    log: deps.log,
    ...(deps.samlAssertionClaims === undefined ? {} : { assertionClaims: deps.samlAssertionClaims }),
  });
  if (deps.tokenExchange !== undefined) registerTokenExchangeRoutes(app, deps.tokenExchange);

  // Who the caller is and what the API lets them do: the console shows only what these roles allow.
  app.get("/api/me", async (request, reply) => {
    const who = await authenticate(request, reply, "signed-in");
    if (who === undefined) return reply;
    const roles = callers.roles(who);
    // Signed in through the console: the page needs the CSRF token for its state-changing calls.
    const cookie =
      request.headers.authorization === undefined ? await consoleSessions.caller(request) : undefined;
    return {
      ...(cookie === undefined ? { via: "token" } : { via: "cookie", csrf: cookie.csrf }),
      subject: who.subject,
      issuer: who.issuer,
      groups: who.groups,
      expiresAt: who.expiresAt,
      roles: { ...roles, read: roles.admin || roles.auditor },
    };
  });

  app.get("/api/sessions", async (request, reply) => {
    if ((await authenticate(request, reply, "read")) === undefined) return reply;
    const query = sessionQuery.safeParse(request.query);
    if (!query.success)
      return reply.code(400).send({
        error: "bad_request",
        message: query.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
      });
    const { active, protocol, from, to, limit = 100, ...rest } = query.data;
    const narrowed = protocol !== undefined || from !== undefined || to !== undefined;
    // Protocol and time range narrow the newest 1000 sessions the index returns (the index has no such filter).
    const sessions = await deps.audit.listSessions({
      ...rest,
      ...(active === undefined ? {} : { active: active === "true" }),
      limit: narrowed ? 1000 : limit,
    });
    const fromMs = from === undefined ? -Infinity : Date.parse(from);
    const toMs = to === undefined ? Infinity : Date.parse(to);
    return {
      sessions: sessions
        .filter((session) => protocol === undefined || session.protocol === protocol)
        .filter((session) => {
          const started = Date.parse(session.startedAt);
          const ended = session.endedAt === null ? Infinity : Date.parse(session.endedAt);
          return started <= toMs && ended >= fromMs; // overlaps the range
        })
        .slice(0, limit),
    };
  });

  app.get<{ Params: { id: string } }>("/api/sessions/:id", async (request, reply) => {
    if ((await authenticate(request, reply, "read")) === undefined) return reply;
    const session = await deps.audit.getSession(request.params.id);
    if (session === undefined)
      return reply.code(404).send({ error: "not_found", message: `no session ${request.params.id}` });
    // Logical events: a folded result reads as its own operation_result (audit/folded-result.ts).
    return { session, events: await logicalEvents(deps.audit, { sessionId: session.id, limit: 1000 }) };
  });

  app.get("/api/audit", async (request, reply) => {
    if ((await authenticate(request, reply, "read")) === undefined) return reply;
    const query = auditQuery.safeParse(request.query);
    if (!query.success)
      return reply.code(400).send({
        error: "bad_request",
        message: query.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
      });
    const { session, after, ...rest } = query.data;
    return {
      events: await logicalEvents(deps.audit, {
        ...rest,
        ...(session === undefined ? {} : { sessionId: session }),
        ...(after === undefined ? {} : { afterSeq: after }),
      }),
    };
  });

  app.post("/api/policies/reload", async (request, reply) => {
    if ((await authenticate(request, reply, "admin")) === undefined) return reply;
    if (deps.reloadPolicies === undefined)
      return reply.code(404).send({ error: "not_found", message: "reload is not available" });
    try {
      return await deps.reloadPolicies();
    } catch (error) {
      return reply.code(400).send({
        error: "invalid_policies",
        message: `${isLatchError(error) ? error.message : "policies could not be loaded"}; the previous policies stay in force`,
      });
    }
  });

  app.get("/api/audit/verify", async (request, reply) => {
    if ((await authenticate(request, reply, "read")) === undefined) return reply;
    // Runs off the event loop (the reader's worker): sessions keep flowing while a long chain is hashed.
    return deps.audit.verifyChain();
  });

  if (deps.approvals !== undefined) {
    registerApprovalRoutes(app, {
      ...deps.approvals,
      verifier: deps.verifier,
      adminGroups: deps.config.identity.admin_groups,
      authenticate,
    });
  }

  if (deps.sessionControl !== undefined) registerSessionRoutes(app, { ...deps.sessionControl, authenticate });
  if (deps.mcpPins !== undefined) registerMcpPinRoutes(app, { ...deps.mcpPins, authenticate });

  app.setErrorHandler(async (error, _request, reply) => {
    deps.log.error({ err: error }, "admin API error");
    return reply.code(500).send({ error: "internal", message: "internal error; see the gateway log" });
  });

  const split = deps.config.listen.admin.lastIndexOf(":");
  await app.listen({
    host: deps.config.listen.admin.slice(0, split),
    port: Number(deps.config.listen.admin.slice(split + 1)),
  });
  const address = app.server.address();
  const bound =
    typeof address === "object" && address !== null
      ? { host: address.address, port: address.port }
      : { host: "", port: 0 };
  return { address: bound, close: () => app.close() };
}
