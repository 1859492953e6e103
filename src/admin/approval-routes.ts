import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import { accessKey, parseResource } from "../approvals/approval-binding.js";
import { isApprovalError } from "../approvals/approval-errors.js";
import type { ApprovalService } from "../approvals/approval-service.js";
import {
  APPROVAL_STATES,
  type ApprovalRequest,
  type ApprovalUpdate,
  type Grant,
} from "../approvals/approval-types.js";
import type { UpfrontJudge } from "../approvals/upfront-judge.js";
import type { Identity, TokenVerifier } from "../identity/identity.js";
import { parseDuration } from "../identity/parse-duration.js";
import type { Access } from "../sql/classification.js";
import { type Authenticate, createCallerAuth } from "./caller-auth.js";

export interface ApprovalRoutesDeps {
  readonly service: ApprovalService;
  /** Verifies the caller's own bearer token (approvers approve with their own OIDC token). */
  readonly verifier: TokenVerifier;
  /** identity.admin_groups: these see everything and alone revoke grants; others see what they asked for or may decide. */
  readonly adminGroups: readonly string[];
  readonly judgeUpfront: UpfrontJudge;
  /** The admin server's caller check (bearer token or console cookie); absent: bearer tokens via `verifier`. */
  readonly authenticate?: Authenticate;
  /** SSE keep-alive comment interval. Default 15 s. */
  readonly heartbeatMs?: number;
}

const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, "expected a duration such as 30m or 1h");
const listQuery = z.strictObject({
  state: z.enum(APPROVAL_STATES as [string, ...string[]]).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
const grantQuery = z.strictObject({
  active: z.enum(["true", "false"]).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
const createBody = z.strictObject({
  connection: z.string().min(1).max(63),
  actions: z
    .array(z.string().regex(/^[a-z]+:[A-Za-z_]+$/, "expected an action such as sql:update"))
    .min(1)
    .max(20),
  resources: z.array(z.string().min(1).max(200)).max(20).optional(),
  reason: z.string().min(1).max(2000),
  for: duration.optional(),
});
const approveBody = z.strictObject({ reason: z.string().max(2000).optional(), for: duration.optional() });
const denyBody = z.strictObject({ reason: z.string().min(1).max(2000) });
const revokeBody = z.strictObject({ reason: z.string().max(2000).optional() }).optional();

/**
 * /api/requests and /api/grants. Unlike the rest of the admin API these are open to any valid token, not only
 * admin groups: agents ask for access and approvers decide with their own identities; each route checks what
 * that identity may see or do.
 */
export function registerApprovalRoutes(app: FastifyInstance, deps: ApprovalRoutesDeps): void {
  const isAdmin = (who: Identity) => who.groups.some((group) => deps.adminGroups.includes(group));
  const mayView = (who: Identity, request: ApprovalRequest) =>
    isAdmin(who) || request.requester === who.subject || who.groups.includes(request.group);
  /**
   * The preview is for approvers and admins: its sample and counts could show the requester rows their own
   * read policy does not let them see (an UPDATE ... RETURNING * they may write but not read, a count as an
   * oracle), so a requester who is neither sees the request without it.
   */
  const shown = (who: Identity, request: ApprovalRequest): ApprovalRequest => {
    if (request.preview == null || isAdmin(who) || who.groups.includes(request.group)) return request;
    const { preview: _withheld, ...rest } = request;
    return rest;
  };
  const mayViewGrant = (who: Identity, grant: Grant) =>
    isAdmin(who) || grant.principal === who.subject || who.groups.includes(grant.group);

  const authenticate =
    deps.authenticate === undefined
      ? createCallerAuth({ verifier: deps.verifier, adminGroups: deps.adminGroups, auditorGroups: [] })
          .authenticate
      : deps.authenticate;

  /** Runs a handler, answering ApprovalErrors and bad input with their 4xx/503. */
  const guarded = async (reply: FastifyReply, run: () => unknown) => {
    try {
      return await run();
    } catch (error) {
      if (isApprovalError(error))
        return reply.code(error.httpStatus).send({ error: error.code, message: error.message });
      if (error instanceof z.ZodError)
        return reply.code(400).send({ error: "bad_request", message: zodMessage(error) });
      if (error instanceof RangeError)
        return reply.code(400).send({ error: "bad_request", message: error.message });
      throw error;
    }
  };

  app.get("/api/requests", async (request, reply) => {
    const who = await authenticate(request, reply, "signed-in");
    if (who === undefined) return reply;
    return guarded(reply, async () => {
      const query = listQuery.parse(request.query);
      const limit = query.limit ?? 100;
      const all = await deps.service.listRequests({
        ...(query.state ? { state: query.state as ApprovalRequest["state"] } : {}),
        limit: isAdmin(who) ? limit : 1000,
      });
      return {
        requests: all
          .filter((item) => mayView(who, item))
          .slice(0, limit)
          .map((item) => shown(who, item)),
      };
    });
  });

  app.get("/api/requests/stream", async (request, reply) => {
    const who = await authenticate(request, reply, "signed-in");
    if (who === undefined) return reply;
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    const send = (update: ApprovalUpdate) => {
      if (update.type === "request" ? !mayView(who, update.request) : !mayViewGrant(who, update.grant))
        return;
      const body = update.type === "request" ? shown(who, update.request) : update.grant;
      raw.write(`event: ${update.type}\nid: ${body.id}\ndata: ${JSON.stringify(body)}\n\n`);
    };
    // Start with what is pending now, so a watcher that connects late misses nothing it could still decide.
    // Subscribed before the pending list is read, so a request created meanwhile is not missed (a watcher may
    // see it twice; it is keyed by id).
    const unsubscribe = deps.service.subscribe(send);
    try {
      for (const pending of (await deps.service.listRequests({ state: "pending", limit: 1000 })).reverse())
        send({ type: "request", request: pending });
    } catch {
      raw.write(": approval store unavailable; updates follow when it returns\n\n");
    }
    const heartbeat = setInterval(() => raw.write(": keep-alive\n\n"), deps.heartbeatMs ?? 15_000);
    heartbeat.unref();
    request.raw.on("close", () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
  });

  app.get<{ Params: { id: string } }>("/api/requests/:id", async (request, reply) => {
    const who = await authenticate(request, reply, "signed-in");
    if (who === undefined) return reply;
    return guarded(reply, async () => {
      const found = await deps.service.getRequest(request.params.id);
      // Someone who may not see a request learns nothing about whether it exists.
      if (found === undefined || !mayView(who, found))
        return reply
          .code(404)
          .send({ error: "request_not_found", message: `no request ${request.params.id}` });
      return { request: shown(who, found) };
    });
  });

  app.post("/api/requests", async (request, reply) => {
    const who = await authenticate(request, reply, "signed-in");
    if (who === undefined) return reply;
    return guarded(reply, async () => {
      const body = createBody.parse(request.body);
      const accesses = upfrontAccesses(body.actions, body.resources);
      if (typeof accesses === "string")
        return reply.code(400).send({ error: "bad_request", message: accesses });
      const verdict = deps.judgeUpfront(who, body.connection, accesses, request.ip);
      if (verdict === undefined)
        return reply
          .code(404)
          .send({ error: "connection_unknown", message: `no connection named "${body.connection}"` });
      const created = await deps.service.createUpfrontRequest({
        requester: who,
        connection: body.connection,
        accesses: accesses.map(accessKey),
        reason: body.reason,
        verdict,
        ...(body.for === undefined ? {} : { forMs: parseDuration(body.for) }),
      });
      return reply.code(201).send({ request: created });
    });
  });

  app.post<{ Params: { id: string } }>("/api/requests/:id/approve", async (request, reply) => {
    const who = await authenticate(request, reply, "signed-in");
    if (who === undefined) return reply;
    return guarded(reply, async () => {
      const body = approveBody.parse(request.body ?? {});
      const updated = await deps.service.approve(request.params.id, who, {
        ...(body.reason === undefined ? {} : { reason: body.reason }),
        ...(body.for === undefined ? {} : { forMs: parseDuration(body.for) }),
      });
      return { request: updated };
    });
  });

  app.post<{ Params: { id: string } }>("/api/requests/:id/deny", async (request, reply) => {
    const who = await authenticate(request, reply, "signed-in");
    if (who === undefined) return reply;
    return guarded(reply, async () => {
      const body = denyBody.parse(request.body ?? {});
      return { request: await deps.service.deny(request.params.id, who, { reason: body.reason }) };
    });
  });

  app.get("/api/grants", async (request, reply) => {
    const who = await authenticate(request, reply, "signed-in");
    if (who === undefined) return reply;
    return guarded(reply, async () => {
      const query = grantQuery.parse(request.query);
      const limit = query.limit ?? 100;
      const grants = await deps.service.listGrants({
        ...(query.active === "true" ? { liveAt: Date.now() } : {}),
        limit: 1000,
      });
      return { grants: grants.filter((grant) => mayViewGrant(who, grant)).slice(0, limit) };
    });
  });

  // Revoking ends access (and the holder's live sessions on that connection): an admin's act (issue 16 roles),
  // not the grant's holder's or its approver group's, who see it but cannot take it back.
  app.delete<{ Params: { id: string } }>("/api/grants/:id", async (request, reply) => {
    const who = await authenticate(request, reply, "admin");
    if (who === undefined) return reply;
    return guarded(reply, async () => {
      const body = revokeBody.parse(request.body ?? undefined);
      const grant = await deps.service.getGrant(request.params.id);
      if (grant === undefined)
        return reply.code(404).send({ error: "grant_not_found", message: `no grant ${request.params.id}` });
      return { grant: await deps.service.revokeGrant(grant.id, who, body?.reason ?? "") };
    });
  });
}

function upfrontAccesses(
  actions: readonly string[],
  resources: readonly string[] | undefined,
): Access[] | string {
  const parsed: Access["resource"][] = [];
  for (const text of resources ?? ["Connection"]) {
    const resource = parseResource(text);
    if (resource === undefined)
      return `cannot read resource "${text}": name a table (public.orders), Function:schema.name or Connection`;
    parsed.push(resource);
  }
  return actions.flatMap((action) => parsed.map((resource) => ({ action, resource })));
}

function zodMessage(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`).join("; ");
}
