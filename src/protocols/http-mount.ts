import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * A handler another protocol mounts on the HTTP listener (`listen.http`): the MCP endpoint at `/mcp` and its
 * OAuth metadata. The HTTP front routes a request whose normalised path starts with one of `paths` to it before
 * it looks for a connection of that name, so these paths are never connection names.
 */
export interface HttpMount {
  /** Path prefixes it serves, each starting with "/" (e.g. "/mcp", "/.well-known/oauth-protected-resource"). */
  readonly paths: readonly string[];
  /** Answers the request; the HTTP front has done TLS and nothing else (no identity, no policy). */
  handle(request: IncomingMessage, response: ServerResponse): void | Promise<void>;
  /** Ends its open streams and sessions at shutdown. */
  close(): Promise<void>;
}
