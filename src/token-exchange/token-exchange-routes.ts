import type { IncomingMessage, ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import type { HttpMount } from "../protocols/http-mount.js";
import { MAX_FORM_BYTES } from "./exchange-request.js";
import type { LatchSigningKey } from "./latch-signing-key.js";
import type { TokenExchange } from "./token-exchange-service.js";

/**
 * Where token exchange is reachable: `POST /oauth/token`, `/.well-known/openid-configuration` and
 * `/.well-known/jwks.json` on the admin listener, and `POST /oauth/token` on the HTTP listener when it is open.
 */
export interface TokenExchangeEndpoints {
  readonly exchange: TokenExchange;
  readonly key: LatchSigningKey;
  readonly issuer: string;
}

const FORM = "application/x-www-form-urlencoded";

export function discoveryDocument(endpoints: TokenExchangeEndpoints): Record<string, unknown> {
  const base = endpoints.issuer.replace(/\/+$/, "");
  return {
    issuer: endpoints.issuer,
    token_endpoint: endpoints.exchange.tokenEndpoint,
    jwks_uri: `${base}/.well-known/jwks.json`,
    grant_types_supported: ["urn:ietf:params:oauth:grant-type:token-exchange"],
    token_endpoint_auth_methods_supported: ["none"],
    response_types_supported: [],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: [endpoints.key.alg],
  };
}

export function registerTokenExchangeRoutes(app: FastifyInstance, endpoints: TokenExchangeEndpoints): void {
  app.get("/.well-known/openid-configuration", async (_request, reply) =>
    reply.header("cache-control", "max-age=300").send(discoveryDocument(endpoints)),
  );
  app.get("/.well-known/jwks.json", async (_request, reply) =>
    reply.header("cache-control", "max-age=300").send({ keys: [endpoints.key.publicJwk] }),
  );
  // The form is parsed here only, for this route, and kept as text: repeated parameters must be seen.
  app.register(async (scope) => {
    scope.addContentTypeParser(
      FORM,
      { parseAs: "string", bodyLimit: MAX_FORM_BYTES },
      (_request, body, done) => done(null, body),
    );
    scope.post("/oauth/token", async (request, reply) => {
      if (!isForm(request.headers["content-type"]) || typeof request.body !== "string")
        return reply
          .code(400)
          .headers({ "cache-control": "no-store" })
          .send({ error: "invalid_request", error_description: `send the parameters as ${FORM}` });
      const answer = await endpoints.exchange.exchange(request.body, request.ip);
      return reply.code(answer.status).headers(answer.headers).send(answer.body);
    });
  });
}

/** The same endpoint on the HTTP listener (the front has done TLS and nothing else). */
export function tokenExchangeMount(exchange: TokenExchange): HttpMount {
  return {
    paths: ["/oauth/token"],
    async handle(request: IncomingMessage, response: ServerResponse) {
      const send = (status: number, headers: Record<string, string>, body: unknown): void => {
        response
          .writeHead(status, { ...headers, "content-type": "application/json; charset=utf-8" })
          .end(JSON.stringify(body));
      };
      if (request.method !== "POST" || (request.url ?? "").split("?")[0] !== "/oauth/token")
        return send(
          405,
          { allow: "POST" },
          { error: "invalid_request", error_description: "POST /oauth/token" },
        );
      if (!isForm(request.headers["content-type"]))
        return send(
          400,
          { "cache-control": "no-store" },
          { error: "invalid_request", error_description: `send the parameters as ${FORM}` },
        );
      const body = await readBody(request);
      if (body === undefined)
        return send(
          413,
          { "cache-control": "no-store" },
          { error: "invalid_request", error_description: "the request is too large" },
        );
      const answer = await exchange.exchange(body, request.socket.remoteAddress ?? "unknown");
      return send(answer.status, answer.headers, answer.body);
    },
    async close() {},
  };
}

function isForm(contentType: string | undefined): boolean {
  return (contentType ?? "").split(";")[0]?.trim().toLowerCase() === FORM;
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}
