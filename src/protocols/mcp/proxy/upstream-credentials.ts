import type { McpConnectionConfig } from "../../../config/schema.js";
import { resolveSecret } from "../../../config/secrets.js";
import { LatchError } from "../../../errors.js";

/** The headers Latch adds to every request to an HTTP upstream: the connection's own credential, nothing else. */
export interface UpstreamCredential {
  headers(): Promise<Record<string, string>>;
  /** The upstream said 401: a cached token is dropped so the next request fetches a fresh one. */
  rejected(): void;
}

const TOKEN_TIMEOUT_MS = 10_000;
/** A token is renewed this long before the expiry its server announced. */
const EXPIRY_MARGIN_MS = 30_000;
/** When the token response names no expires_in. */
const DEFAULT_LIFETIME_MS = 300_000;

/**
 * One per connection and gateway (an OAuth token is shared by the connection's sessions, as it is the
 * gateway's identity upstream, never a caller's). Secrets are resolved at use, so a rotated file is picked up.
 */
export function createUpstreamCredential(name: string, connection: McpConnectionConfig): UpstreamCredential {
  const header = connection.inject?.header;
  if (header !== undefined)
    return {
      headers: async () => ({
        [header.name]: header.format.replace("{}", resolveSecret(header.value, `connection ${name}`)),
      }),
      rejected: () => undefined,
    };
  const oauth = connection.inject?.oauth;
  if (oauth === undefined) return { headers: async () => ({}), rejected: () => undefined };
  let cached: { token: string; renewAt: number } | undefined;
  let fetching: Promise<string> | undefined;
  const fetchToken = async (): Promise<string> => {
    const body = new URLSearchParams({ grant_type: "client_credentials" });
    if (oauth.scope !== undefined) body.set("scope", oauth.scope);
    if (oauth.audience !== undefined) body.set("audience", oauth.audience);
    const secret = resolveSecret(oauth.client_secret, `connection ${name}`);
    // RFC 6749 2.3.1: HTTP Basic with form-encoded id and secret, which every server must support.
    const basic = Buffer.from(
      `${encodeURIComponent(oauth.client_id)}:${encodeURIComponent(secret)}`,
      "utf8",
    ).toString("base64");
    let response: Response;
    try {
      response = await fetch(oauth.token_url, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
          authorization: `Basic ${basic}`,
        },
        body,
        redirect: "error",
        signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
      });
    } catch (cause) {
      throw new LatchError(
        "upstream_unavailable",
        { name, reason: `token endpoint unreachable (${(cause as Error).message})` },
        { cause },
      );
    }
    const answer = (await response.json().catch(() => ({}))) as {
      access_token?: unknown;
      expires_in?: unknown;
    };
    if (!response.ok || typeof answer.access_token !== "string" || answer.access_token === "")
      throw new LatchError("upstream_auth_failed", { name });
    const lifetime =
      typeof answer.expires_in === "number" && answer.expires_in > 0
        ? answer.expires_in * 1000
        : DEFAULT_LIFETIME_MS;
    cached = { token: answer.access_token, renewAt: Date.now() + Math.max(0, lifetime - EXPIRY_MARGIN_MS) };
    return answer.access_token;
  };
  return {
    async headers() {
      if (cached !== undefined && Date.now() < cached.renewAt)
        return { authorization: `Bearer ${cached.token}` };
      fetching ??= fetchToken().finally(() => {
        fetching = undefined;
      });
      return { authorization: `Bearer ${await fetching}` };
    },
    rejected() {
      cached = undefined;
    },
  };
}
