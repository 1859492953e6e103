import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";

/**
 * A real `oidc-provider` on 127.0.0.1 whose JWT access tokens carry any claims a test names, for tokens shaped
 * like another issuer's (GitHub Actions, GitLab CI, Kubernetes service accounts). As in oidc-provider.ts, the
 * token comes from the client_credentials grant over HTTP, `sub` is the client id (so any `sub` format works:
 * `repo:o/r:ref:refs/heads/main`), `aud` comes from a resource indicator, and the extra claims are added by
 * `extraTokenClaims` (nested objects and claim names with dots included). oidc-provider.ts stays as it is:
 * its `groups`-only claims are what the other suites rely on.
 */
export interface ClaimsOidcProvider {
  /** Issuer URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  readonly issuer: string;
  /** Where oidc-provider serves its key set (what discovery names as `jwks_uri`). */
  readonly jwksUri: string;
  mintToken(subject: string, claims: Record<string, unknown>, opts?: { audience?: string }): Promise<string>;
  close(): Promise<void>;
}

interface ProviderInstance {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
}
type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => ProviderInstance;

const RESOURCE_PREFIX = "urn:latch-test:audience:";

export async function startClaimsOidcProvider(): Promise<ClaimsOidcProvider> {
  // @ts-expect-error oidc-provider has no type declarations; ProviderConstructor describes what we use
  const { default: Provider } = (await import("oidc-provider")) as { default: ProviderConstructor };

  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const signingJwk = { ...(await exportJWK(privateKey)), kid: "ci-shapes-rs256", alg: "RS256", use: "sig" };

  const clients = new Map<string, Record<string, unknown>>();
  const claimsBySubject = new Map<string, Record<string, unknown>>();
  const store = new Map<string, Record<string, unknown>>();

  const provider = new Provider(issuer, {
    adapter: class {
      constructor(private readonly model: string) {}
      async upsert(id: string, payload: Record<string, unknown>) {
        store.set(`${this.model}:${id}`, payload);
      }
      async find(id: string) {
        return this.model === "Client" ? clients.get(id) : store.get(`${this.model}:${id}`);
      }
      async destroy(id: string) {
        store.delete(`${this.model}:${id}`);
      }
    },
    jwks: { keys: [signingJwk] },
    cookies: { keys: [randomBytes(32).toString("hex")] },
    ttl: { ClientCredentials: 300 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => `${RESOURCE_PREFIX}latch`,
        getResourceServerInfo: async (_ctx: unknown, resource: string) => {
          if (!resource.startsWith(RESOURCE_PREFIX)) throw new Error(`unknown resource ${resource}`);
          return {
            scope: "",
            audience: resource.slice(RESOURCE_PREFIX.length),
            accessTokenFormat: "jwt",
            accessTokenTTL: 300,
            jwt: { sign: { alg: "RS256" } },
          };
        },
      },
    },
    extraTokenClaims: async (_ctx: unknown, token: { clientId?: string }) =>
      claimsBySubject.get(token.clientId ?? "") ?? {},
  });
  server.on("request", provider.callback());

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    async mintToken(subject, claims, opts = {}) {
      const secret = randomBytes(24).toString("base64url");
      clients.set(subject, {
        client_id: subject,
        client_secret: secret,
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "client_secret_basic",
      });
      claimsBySubject.set(subject, structuredClone(claims));
      const credentials = `${encodeURIComponent(subject)}:${encodeURIComponent(secret)}`;
      const response = await fetch(`${issuer}/token`, {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(credentials).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({
          grant_type: "client_credentials",
          resource: `${RESOURCE_PREFIX}${opts.audience ?? "latch"}`,
        }),
      });
      const body = (await response.json()) as {
        access_token?: string;
        error?: string;
        error_description?: string;
      };
      if (response.status !== 200 || typeof body.access_token !== "string") {
        throw new Error(
          `token request failed: HTTP ${response.status} ${body.error}: ${body.error_description}`,
        );
      }
      return body.access_token;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
