import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { Pool } from "undici";
import type { HttpConnectionConfig } from "../../config/schema.js";
import { resolveSecret } from "../../config/secrets.js";
import { type CredentialProvider, staticCredential } from "../../credentials/credential-provider.js";
import { parseDuration } from "../../identity/parse-duration.js";
import { AnswerHandler, type UpstreamReceiver, type WholeBodyCap } from "./upstream-answer.js";

export type { UpstreamAnswer } from "./upstream-answer.js";

/** The upstream credential of one HTTP session: what Latch adds to each request, and what to scrub from answers. */
export interface HttpCredential {
  readonly headers: readonly (readonly [string, string])[];
  readonly query: readonly [string, string] | undefined;
  /** Every form of the secret that could come back (raw, formatted, base64): scrubbed from responses. */
  readonly secrets: readonly string[];
}

/** Reads the connection's `inject:` secret at each session start, so a rotated file or variable is picked up. */
export function httpCredentialProvider(
  name: string,
  connection: HttpConnectionConfig,
): CredentialProvider<HttpCredential> {
  return staticCredential(() => resolveHttpCredential(name, connection));
}

export function resolveHttpCredential(name: string, connection: HttpConnectionConfig): HttpCredential {
  const inject = connection.inject;
  const purpose = `connections.${name}.inject`;
  if (inject === undefined) return { headers: [], query: undefined, secrets: [] };
  if (inject.header !== undefined) {
    const secret = resolveSecret(inject.header.value, purpose);
    const value = inject.header.format.replace("{}", secret);
    return {
      headers: [[inject.header.name.toLowerCase(), value]],
      query: undefined,
      secrets: [value, secret],
    };
  }
  if (inject.bearer !== undefined) {
    const secret = resolveSecret(inject.bearer, purpose);
    return {
      headers: [["authorization", `Bearer ${secret}`]],
      query: undefined,
      secrets: [`Bearer ${secret}`, secret],
    };
  }
  if (inject.basic !== undefined) {
    const password = resolveSecret(inject.basic.password, purpose);
    const encoded = Buffer.from(`${inject.basic.username}:${password}`).toString("base64");
    return {
      headers: [["authorization", `Basic ${encoded}`]],
      query: undefined,
      secrets: [encoded, password],
    };
  }
  if (inject.query !== undefined) {
    const secret = resolveSecret(inject.query.value, purpose);
    return { headers: [], query: [inject.query.name, secret], secrets: [encodeURIComponent(secret), secret] };
  }
  return { headers: [], query: undefined, secrets: [] };
}

/**
 * One connection's upstream: a keep-alive pool (undici) to its origin, certificates verified (name and chain,
 * `ca_file` when given), headers within `timeout`. Requests carry the path under the base URL's path.
 */
export class HttpUpstream {
  private readonly pool: Pool;
  private readonly basePath: string;

  constructor(
    private readonly name: string,
    connection: HttpConnectionConfig,
  ) {
    const url = new URL(connection.upstream);
    this.basePath = url.pathname.replace(/\/+$/, "");
    const connectTimeout = parseDuration(connection.connect_timeout);
    this.pool = new Pool(url.origin, {
      connections: 64,
      headersTimeout: parseDuration(connection.timeout),
      bodyTimeout: parseDuration(connection.timeout),
      keepAliveTimeout: 4_000,
      connect: {
        timeout: connectTimeout,
        rejectUnauthorized: true,
        ...(connection.ca_file === undefined ? {} : { ca: readFileSync(connection.ca_file) }),
      },
    });
  }

  /**
   * Sends one request; `receiver` hears the answer once its headers are in, or, when `wholeUpTo` asks for the
   * body whole, once that body is (see upstream-answer.ts), or upstream_unavailable. `headers` are flat: name,
   * value, name, value (forwardHeadersOf).
   */
  dispatch(
    method: string,
    path: string,
    headers: string[],
    body: Readable | Buffer | undefined,
    signal: AbortSignal | undefined,
    wholeUpTo: WholeBodyCap,
    receiver: UpstreamReceiver,
  ): void {
    const handler = new AnswerHandler(
      receiver,
      this.name,
      wholeUpTo,
      signal,
      body instanceof Readable ? body : undefined,
    );
    // undici's dispatch with a handler of its own (undici's request API adds a body stream, a promise, an
    // async resource and an abort listener per request); a synchronous failure goes to handler.onError.
    this.pool.dispatch(
      {
        method: method as "GET",
        path: this.basePath === "" ? path : `${this.basePath}${path}`,
        headers,
        body: body ?? null,
      },
      handler,
    );
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
