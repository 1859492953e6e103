import { z } from "zod";

/**
 * First path segments the HTTP listener serves itself, before it looks for a connection of that name
 * (src/protocols/http-mount.ts): the MCP endpoint (`/mcp`), token exchange (`/oauth/token`) and metadata under
 * `/.well-known/`. A connection with such a name would lose those paths (or be unreachable), so it is refused.
 * Exact names: the listener matches paths case-sensitively, as it routes connection names.
 */
export const RESERVED_CONNECTION_NAMES: readonly string[] = ["mcp", "oauth"];

export const connectionNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,63}$/)
  .refine((name) => !RESERVED_CONNECTION_NAMES.includes(name) && !name.startsWith("."), {
    message:
      "connection names mcp, oauth and names starting with . are reserved: the HTTP listener serves /mcp (MCP), /oauth/token (token exchange) and /.well-known/... itself; choose another name",
  });
