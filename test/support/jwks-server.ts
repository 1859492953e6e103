import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { JWK } from "jose";

/**
 * A small issuer on 127.0.0.1 for identity tests: serves OIDC discovery and JWKS documents that a test can
 * change at any time (rotate keys, fail with a status) and counts every request per path, so tests can
 * assert how often the verifier actually went to the network.
 */
export interface JwksServer {
  /** http://127.0.0.1:<port>, also the issuer named by the discovery document. */
  readonly base: string;
  /** Key sets by path, e.g. "/jwks" and "/attacker-jwks". */
  readonly keySets: Map<string, JWK[]>;
  /** Answer this status instead of the document, per path (e.g. 503 while "down"). */
  readonly failures: Map<string, number>;
  /** Paths whose requests are never answered (to exercise timeouts). */
  readonly stalls: Set<string>;
  /** Discovery document overrides (default: issuer = base, jwks_uri = base/jwks). */
  discovery: Record<string, unknown> | undefined;
  hits(path: string): number;
  close(): Promise<void>;
}

export async function startJwksServer(): Promise<JwksServer> {
  const counts = new Map<string, number>();
  const keySets = new Map<string, JWK[]>();
  const failures = new Map<string, number>();
  const stalls = new Set<string>();
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const state: JwksServer = {
    base,
    keySets,
    failures,
    stalls,
    discovery: undefined,
    hits: (path) => counts.get(path) ?? 0,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? "/", base).pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    if (stalls.has(path)) return;
    const failure = failures.get(path);
    if (failure !== undefined) {
      response.writeHead(failure).end();
      return;
    }
    let body: unknown;
    if (path.endsWith("/.well-known/openid-configuration")) {
      body = state.discovery ?? { issuer: base, jwks_uri: `${base}/jwks` };
    } else if (keySets.has(path)) {
      body = { keys: keySets.get(path) };
    } else {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
  });
  return state;
}
