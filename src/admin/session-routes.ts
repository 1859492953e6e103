import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import type { ClusterEvents } from "../cluster/cluster-events.js";
import { LatchError } from "../errors.js";
import type { Identity } from "../identity/identity.js";
import type { SessionRegistry } from "../session/session-registry.js";
import type { LiveSessionStore } from "../store/live-session-store.js";
import type { PrincipalBlockStore } from "../store/principal-block-store.js";
import type { AuditEventInput, SessionSummary } from "../store/store.js";
import type { Authenticate } from "./caller-auth.js";

export interface SessionRoutesDeps {
  readonly authenticate: Authenticate;
  /** Every live session of every protocol. */
  readonly registry: SessionRegistry;
  readonly blocks: PrincipalBlockStore;
  /** Durable audit write; a failure refuses the action (nothing is done that is not on record). */
  readonly record: (event: AuditEventInput) => Promise<void>;
  /** This gateway, and the store-wide list of live sessions (every replica's when the store is shared). */
  readonly gatewayId: string;
  readonly liveSessions: Pick<LiveSessionStore, "list">;
  /** The other gateways on this store: blocks and kills reach their sessions too. */
  readonly events: ClusterEvents;
  /** A session anywhere on the store, from the audit's sessions index (to kill one another gateway serves). */
  readonly findSession: (id: string) => Promise<SessionSummary | undefined>;
}

const blockBody = z.strictObject({ reason: z.string().max(500).optional() }).optional();

const KILLED_MESSAGE = "session terminated by an administrator";

/** DELETE /api/sessions/:id and the principal block list: the admin's ways to end access at once. */
export function registerSessionRoutes(app: FastifyInstance, deps: SessionRoutesDeps): void {
  // Registered before /api/sessions/:id so "live" is never taken for a session id.
  app.get("/api/sessions/live", async (request, reply) => {
    if ((await deps.authenticate(request, reply, "read")) === undefined) return reply;
    const here = deps.registry.list().map((session) => ({ ...session, gatewayId: deps.gatewayId }));
    if (!deps.events.shared) return { sessions: here };
    // Every replica's sessions from the store: this gateway's own as they are now, the others' last activity
    // as of their gateway's last heartbeat.
    const local = new Map(here.map((session) => [session.id, session]));
    const everywhere = (await deps.liveSessions.list()).map((record) => local.get(record.id) ?? record);
    for (const session of here) if (!everywhere.some((s) => s.id === session.id)) everywhere.push(session);
    return { sessions: everywhere };
  });

  app.delete<{ Params: { id: string } }>("/api/sessions/:id", async (request, reply) => {
    const admin = await deps.authenticate(request, reply, "admin");
    if (admin === undefined) return reply;
    const session = deps.registry.get(request.params.id);
    if (session === undefined) return killElsewhere(request.params.id, admin, reply);
    await deps.record({
      kind: "session_killed",
      sessionId: request.params.id,
      data: { by: admin.subject, subject: session.subject },
    });
    session.terminate(
      new LatchError("session_terminated", { reason: KILLED_MESSAGE }),
      `${KILLED_MESSAGE} (${admin.subject})`,
    );
    return { killed: request.params.id };
  });

  /** A session this gateway does not serve: if the store says it is open, its gateway is told to end it. */
  const killElsewhere = async (id: string, admin: Identity, reply: FastifyReply) => {
    if (!deps.events.shared)
      return reply.code(404).send({ error: "not_found", message: `no live session ${id} on this gateway` });
    const summary = await deps.findSession(id);
    if (summary === undefined || summary.endedAt !== null)
      return reply.code(404).send({ error: "not_found", message: `no live session ${id}` });
    await deps.record({
      kind: "session_killed",
      sessionId: id,
      data: { by: admin.subject, subject: summary.subject, onAnotherGateway: true },
    });
    await deps.events.publish({ kind: "session_kill", sessionId: id, by: admin.subject });
    return reply
      .code(202)
      .send({ killRequested: id, message: "the gateway serving this session was told to end it" });
  };

  app.get("/api/principals/blocked", async (request, reply) => {
    if ((await deps.authenticate(request, reply, "read")) === undefined) return reply;
    return { blocked: await deps.blocks.list() };
  });

  app.post<{ Params: { sub: string } }>("/api/principals/:sub/block", async (request, reply) => {
    const admin = await deps.authenticate(request, reply, "admin");
    if (admin === undefined) return reply;
    const body = blockBody.safeParse(request.body ?? undefined);
    if (!body.success)
      return reply.code(400).send({ error: "bad_request", message: "body: { reason?: string }" });
    const principal = request.params.sub;
    const reason = body.data?.reason ?? "";
    await deps.record({
      kind: "principal_blocked",
      sessionId: null,
      data: { principal, by: admin.subject, reason },
    });
    const newlyBlocked = await deps.blocks.block(principal, admin.subject, reason);
    // Ended before the API answers, on every protocol, so "blocked" means cut off; other gateways follow at once.
    const announced = deps.events.publish({ kind: "principal_blocked", principal, by: admin.subject });
    const ended = deps.registry.terminateWhere(
      (session) => session.subject === principal,
      new LatchError("principal_blocked"),
      `principal blocked by an administrator (${admin.subject})`,
    );
    await announced;
    return { principal, newlyBlocked, sessionsEnded: ended };
  });

  app.delete<{ Params: { sub: string } }>("/api/principals/:sub/block", async (request, reply) => {
    const admin = await deps.authenticate(request, reply, "admin");
    if (admin === undefined) return reply;
    const principal = request.params.sub;
    await deps.record({
      kind: "principal_unblocked",
      sessionId: null,
      data: { principal, by: admin.subject },
    });
    const wasBlocked = await deps.blocks.unblock(principal);
    if (!wasBlocked)
      return reply.code(404).send({ error: "not_found", message: `${principal} is not blocked` });
    return { principal, unblocked: true };
  });
}
