import { createRemoteJWKSet, customFetch, errors, type JWTVerifyGetKey } from "jose";

export interface IssuerKeyOptions {
  /** Per-request timeout for discovery and JWKS fetches. */
  readonly fetchTimeoutMs: number;
  /** How long a fetched JWKS is used before it is fetched again. */
  readonly cacheMaxAgeMs: number;
  /** Minimum gap between refetches triggered by an unknown `kid`: bounds what random kids can cost us. */
  readonly cooldownMs: number;
  /** After a failed discovery or JWKS fetch, fail fast for this long instead of hammering a dead endpoint. */
  readonly retryAfterFailureMs: number;
}

/** The token may be fine; the gateway just could not obtain the keys to check it. */
export class IssuerKeysUnavailableError extends Error {
  override readonly name = "IssuerKeysUnavailableError";
}

/** Discovery documents and key sets are small; anything bigger is refused before it is buffered. */
const MAX_METADATA_BYTES = 512 * 1024;

/**
 * The key resolver for one configured issuer: `jwks_uri` when configured, else OIDC discovery
 * (`<issuer>/.well-known/openid-configuration`). Discovery runs once and is kept on success; a failure is
 * remembered only for `retryAfterFailureMs`. The key set itself is jose's remote JWKS: cached for
 * `cacheMaxAgeMs`, single-flight refresh on an unknown `kid`, at most one refetch per `cooldownMs`, so keys
 * removed by the issuer stop verifying at the next refresh. Only keys from this set are ever used: header
 * parameters such as `jku`, `x5u`, `x5c` and `jwk` are never consulted.
 */
export function createIssuerKeys(
  issuer: string,
  configuredJwksUri: string | undefined,
  options: IssuerKeyOptions,
): JWTVerifyGetKey {
  let remoteKeys: JWTVerifyGetKey | undefined;
  let pendingDiscovery: Promise<JWTVerifyGetKey> | undefined;
  let lastFailure: { at: number; error: IssuerKeysUnavailableError } | undefined;

  const noteFailure = (reason: string): IssuerKeysUnavailableError => {
    const error = new IssuerKeysUnavailableError(reason);
    lastFailure = { at: Date.now(), error };
    return error;
  };
  const recentFailure = () =>
    lastFailure !== undefined && Date.now() - lastFailure.at < options.retryAfterFailureMs
      ? lastFailure.error
      : undefined;

  const buildRemoteKeys = (jwksUri: URL): JWTVerifyGetKey =>
    createRemoteJWKSet(jwksUri, {
      timeoutDuration: options.fetchTimeoutMs,
      cacheMaxAge: options.cacheMaxAgeMs,
      cooldownDuration: options.cooldownMs,
      [customFetch]: async (url, init) => {
        // A refetch soon after a failed one fails fast: unknown kids must not turn into a stream of requests.
        const failure = recentFailure();
        if (failure !== undefined) throw failure;
        let response: Response;
        try {
          response = await fetchBounded(url, init);
        } catch (cause) {
          throw noteFailure(`key set ${url} could not be fetched: ${describeFetchError(cause)}`);
        }
        if (response.status !== 200) throw noteFailure(`key set ${url} answered HTTP ${response.status}`);
        return response;
      },
    });

  const keysReady = async (): Promise<JWTVerifyGetKey> => {
    if (remoteKeys !== undefined) return remoteKeys;
    const failure = recentFailure();
    if (failure !== undefined) throw failure;
    pendingDiscovery ??= locateJwks(issuer, configuredJwksUri, options.fetchTimeoutMs)
      .then((jwksUri) => {
        remoteKeys = buildRemoteKeys(jwksUri);
        return remoteKeys;
      })
      .catch((cause: unknown) => {
        throw cause instanceof IssuerKeysUnavailableError
          ? noteFailure(cause.message)
          : noteFailure(`discovery failed: ${describeFetchError(cause)}`);
      })
      .finally(() => {
        pendingDiscovery = undefined;
      });
    return pendingDiscovery;
  };

  return async (protectedHeader, token) => {
    const keys = await keysReady();
    try {
      return await keys(protectedHeader, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys)
        throw error;
      if (error instanceof IssuerKeysUnavailableError) throw error;
      if (error instanceof errors.JWKSTimeout) throw noteFailure(`key set fetch timed out`);
      if (error instanceof errors.JWKSInvalid || error instanceof errors.JWKInvalid) throw error;
      if (error instanceof errors.JOSENotSupported) throw error;
      if (error instanceof errors.JOSEError) throw noteFailure(`key set unusable: ${error.message}`);
      throw noteFailure(`key set unusable: ${describeFetchError(error)}`);
    }
  };
}

async function locateJwks(issuer: string, configured: string | undefined, timeoutMs: number): Promise<URL> {
  if (configured !== undefined) return requireSafeUrl(configured, "jwks_uri");
  const discoveryUrl = `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  let response: Response;
  try {
    response = await fetchBounded(discoveryUrl, {
      headers: { accept: "application/json" },
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (cause) {
    throw new IssuerKeysUnavailableError(`discovery ${discoveryUrl} failed: ${describeFetchError(cause)}`);
  }
  if (response.status !== 200) {
    throw new IssuerKeysUnavailableError(`discovery ${discoveryUrl} answered HTTP ${response.status}`);
  }
  let metadata: unknown;
  try {
    metadata = await response.json();
  } catch {
    throw new IssuerKeysUnavailableError(`discovery ${discoveryUrl} did not return JSON`);
  }
  const record = (typeof metadata === "object" && metadata !== null ? metadata : {}) as Record<
    string,
    unknown
  >;
  // OpenID Connect Discovery 1.0 section 4.3: the document must name exactly the issuer we asked about.
  if (record.issuer !== issuer) {
    throw new IssuerKeysUnavailableError(
      `discovery ${discoveryUrl} names issuer ${JSON.stringify(String(record.issuer)).slice(0, 200)}, expected ${JSON.stringify(issuer)}`,
    );
  }
  if (typeof record.jwks_uri !== "string") {
    throw new IssuerKeysUnavailableError(`discovery ${discoveryUrl} has no jwks_uri`);
  }
  return requireSafeUrl(record.jwks_uri, "discovered jwks_uri");
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Key material fetched over plain HTTP could be swapped by anyone on the path, so HTTPS is required except
 * for loopback addresses (local development and tests).
 */
export function requireSafeUrl(text: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new IssuerKeysUnavailableError(`${what} ${JSON.stringify(text)} is not a URL`);
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && (LOOPBACK_HOSTS.has(url.hostname) || url.hostname.startsWith("127."))) {
    return url;
  }
  throw new IssuerKeysUnavailableError(
    `${what} ${url.href} must use https (plain http is accepted only for loopback hosts)`,
  );
}

/** fetch, but the body is read up to a cap and handed back as a fresh Response; bigger bodies are refused. */
async function fetchBounded(url: string, init: RequestInit): Promise<Response> {
  const response = await fetch(url, { ...init, redirect: "manual" });
  if (response.status !== 200) {
    await response.body?.cancel();
    return new Response(null, {
      status: response.status >= 200 && response.status <= 599 ? response.status : 502,
    });
  }
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > MAX_METADATA_BYTES) {
    await response.body?.cancel();
    throw new Error(`response of ${declared} bytes exceeds ${MAX_METADATA_BYTES}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body !== null) {
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_METADATA_BYTES) {
        await reader.cancel();
        throw new Error(`response exceeds ${MAX_METADATA_BYTES} bytes`);
      }
      chunks.push(value);
    }
  }
  return new Response(Buffer.concat(chunks), {
    status: 200,
    headers: { "content-type": "application/json" },
  });
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === "TimeoutError" || error.name === "AbortError") return "timed out";
  // undici hides the useful part (ECONNREFUSED, ENOTFOUND) in `cause`.
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}
