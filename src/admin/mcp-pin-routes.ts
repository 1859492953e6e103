import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { McpToolPinStore } from "../store/mcp-tool-pin-store.js";
import type { AuditEventInput } from "../store/store.js";
import type { Authenticate } from "./caller-auth.js";

export interface McpPinRoutesDeps {
  readonly authenticate: Authenticate;
  readonly pins: McpToolPinStore;
  /** Durable audit write; a failure refuses the accept (nothing changes that is not on record). */
  readonly record: (event: AuditEventInput) => Promise<void>;
}

const acceptBody = z.strictObject({ tool: z.string().min(1).max(128).optional() }).optional();
const listQuery = z.strictObject({ connection: z.string().max(63).optional() });

/**
 * `latch mcp pins list|accept`: the pinned tool definitions of MCP proxy connections, and an administrator's
 * accept of a changed (or new) one, recorded before it takes effect.
 */
export function registerMcpPinRoutes(app: FastifyInstance, deps: McpPinRoutesDeps): void {
  app.get("/api/mcp/pins", async (request, reply) => {
    if ((await deps.authenticate(request, reply, "read")) === undefined) return reply;
    const query = listQuery.safeParse(request.query);
    if (!query.success) return reply.code(400).send({ error: "bad_request", message: "query: connection?" });
    return { pins: await deps.pins.list(query.data.connection) };
  });

  app.post<{ Params: { connection: string } }>("/api/mcp/pins/:connection/accept", async (request, reply) => {
    const admin = await deps.authenticate(request, reply, "admin");
    if (admin === undefined) return reply;
    const body = acceptBody.safeParse(request.body ?? undefined);
    if (!body.success)
      return reply.code(400).send({ error: "bad_request", message: "body: { tool?: string }" });
    const { connection } = request.params;
    const tool = body.data?.tool;
    const pending = (await deps.pins.list(connection)).filter(
      (pin) => pin.pendingHash !== null && (tool === undefined || pin.tool === tool),
    );
    if (pending.length === 0)
      return reply.code(404).send({
        error: "not_found",
        message: `nothing waits for acceptance on ${connection}${tool === undefined ? "" : ` (tool ${tool})`}`,
      });
    for (const pin of pending)
      await deps.record({
        kind: "mcp_tool_accepted",
        sessionId: null,
        data: {
          connection,
          tool: pin.tool,
          by: admin.subject,
          hash: pin.pendingHash,
          previousHash: pin.pinnedHash,
        },
      });
    return { accepted: await deps.pins.accept(connection, tool, admin.subject) };
  });
}
