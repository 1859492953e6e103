import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";

/**
 * A real OpenID Connect provider (npm `oidc-provider`, the certified implementation) on 127.0.0.1 for
 * integration tests. Tokens are JWT access tokens from the client_credentials grant, fetched over HTTP
 * exactly as a CI job or agent would: one client per subject (client id = `sub`, so any `sub` format works),
 * a resource indicator naming the audience, and the subject's groups added as a `groups` claim, or any claims a
 * test names (tokens shaped like GitHub Actions', GitLab CI's or a Kubernetes service account's: nested objects
 * and claim names with dots included).
 */
export interface TestOidcProvider {
  /** Issuer URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  readonly issuer: string;
  /** Resource indicator whose tokens carry `aud: <audience>`. */
  resourceFor(audience: string): string;
  /** Where the provider serves its key set (what discovery names as `jwks_uri`). */
  readonly jwksUri: string;
  mintToken(subject: string, groups: string[], opts?: { audience?: string }): Promise<string>;
  /** A token whose extra claims are exactly `claims` (no `groups` unless named). */
  mintTokenWithClaims(
    subject: string,
    claims: Record<string, unknown>,
    opts?: { audience?: string },
  ): Promise<string>;
  /**
   * With `startOidcProvider({ signIn: true })`: an authorization-code client for a browser sign-in that
   * comes back to `redirectUri`. The provider's own login form (oidc-provider's dev interactions) takes any
   * login name and password; consent is granted at once.
   */
  addSignInClient(redirectUri: string): { clientId: string; clientSecret: string };
  /** The groups a login name's ID token carries (default none). */
  setPerson(login: string, groups: readonly string[]): void;
  close(): Promise<void>;
}

export const SIGNING_KID = "oidc-test-rs256";

/** `oidc-provider` ships no types; this is the small surface used here. */
interface ProviderInstance {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
}
type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => ProviderInstance;

interface TokenLike {
  readonly clientId?: string;
}

interface InteractionContext {
  readonly oidc: {
    readonly provider: { Grant: new (init: Record<string, string>) => GrantLike };
    readonly client?: { readonly clientId: string };
    readonly session?: { readonly accountId?: string };
  };
}
interface GrantLike {
  addOIDCScope(scope: string): void;
  save(): Promise<string>;
}

export async function startOidcProvider(options: { signIn?: boolean } = {}): Promise<TestOidcProvider> {
  // Loaded lazily so suites that never start a provider do not pay for it (or see its Node version notice).
  // @ts-expect-error oidc-provider has no type declarations; ProviderConstructor below describes what we use
  const { default: Provider } = (await import("oidc-provider")) as { default: ProviderConstructor };

  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const signingJwk = { ...(await exportJWK(privateKey)), kid: SIGNING_KID, alg: "RS256", use: "sig" };

  const clients = new Map<string, Record<string, unknown>>();
  const claimsBySubject = new Map<string, Record<string, unknown>>();
  const secretsBySubject = new Map<string, string>();
  const resourcePrefix = "urn:latch-test:audience:";
  const people = new Map<string, readonly string[]>();
  const signIn = options.signIn
    ? {
        conformIdTokenClaims: false,
        claims: { openid: ["sub"], groups: ["groups"], profile: ["name"], email: ["email"] },
        findAccount: async (_ctx: unknown, id: string) => ({
          accountId: id,
          claims: async () => ({ sub: id, name: id, groups: [...(people.get(id) ?? [])] }),
        }),
        loadExistingGrant: async (ctx: InteractionContext) => {
          const grant = new ctx.oidc.provider.Grant({
            clientId: ctx.oidc.client?.clientId ?? "",
            accountId: ctx.oidc.session?.accountId ?? "",
          });
          grant.addOIDCScope("openid profile email groups");
          await grant.save();
          return grant;
        },
      }
    : {};

  const provider = new Provider(issuer, {
    adapter: memoryAdapter(clients),
    jwks: { keys: [signingJwk] },
    cookies: { keys: [randomBytes(32).toString("hex")] },
    ttl: {
      ClientCredentials: 300,
      ...(options.signIn
        ? {
            Interaction: 600,
            Grant: 600,
            Session: 600,
            AccessToken: 300,
            IdToken: 300,
            AuthorizationCode: 60,
          }
        : {}),
    },
    ...signIn,
    features: {
      devInteractions: { enabled: options.signIn === true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => `${resourcePrefix}latch`,
        getResourceServerInfo: async (_ctx: unknown, resource: string) => {
          if (!resource.startsWith(resourcePrefix)) throw new Error(`unknown resource ${resource}`);
          return {
            scope: "",
            audience: resource.slice(resourcePrefix.length),
            accessTokenFormat: "jwt",
            accessTokenTTL: 300,
            jwt: { sign: { alg: "RS256" } },
          };
        },
      },
    },
    extraTokenClaims: async (_ctx: unknown, token: TokenLike) =>
      claimsBySubject.get(token.clientId ?? "") ?? { groups: [] },
  });
  server.on("request", provider.callback());

  const register = (subject: string): string => {
    let secret = secretsBySubject.get(subject);
    if (secret === undefined) {
      secret = randomBytes(24).toString("base64url");
      secretsBySubject.set(subject, secret);
      clients.set(subject, {
        client_id: subject,
        client_secret: secret,
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "client_secret_basic",
      });
    }
    return secret;
  };

  const mint = async (
    subject: string,
    claims: Record<string, unknown>,
    audience = "latch",
  ): Promise<string> => {
    const secret = register(subject);
    claimsBySubject.set(subject, structuredClone(claims));
    const response = await fetch(`${issuer}/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(subject)}:${encodeURIComponent(secret)}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        resource: `${resourcePrefix}${audience}`,
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
  };

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    resourceFor: (audience) => `${resourcePrefix}${audience}`,
    mintToken: (subject, groups, opts = {}) => mint(subject, { groups: [...groups] }, opts.audience),
    mintTokenWithClaims: (subject, claims, opts = {}) => mint(subject, claims, opts.audience),
    addSignInClient(redirectUri) {
      if (!options.signIn) throw new Error("start the provider with { signIn: true } for browser sign-in");
      const clientId = `console-${clients.size + 1}`;
      const clientSecret = randomBytes(24).toString("base64url");
      clients.set(clientId, {
        client_id: clientId,
        client_secret: clientSecret,
        grant_types: ["authorization_code"],
        response_types: ["code"],
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: "client_secret_basic",
      });
      return { clientId, clientSecret };
    },
    setPerson(login, groups) {
      people.set(login, [...groups]);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * oidc-provider's storage contract, in memory, per provider instance. Clients are read from `clients` so
 * that new subjects can be registered while the provider runs.
 */
function memoryAdapter(clients: Map<string, Record<string, unknown>>) {
  const store = new Map<string, Record<string, unknown>>();
  return class MemoryAdapter {
    constructor(private readonly model: string) {}
    private key(id: string) {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: Record<string, unknown>) {
      store.set(this.key(id), payload);
    }
    async find(id: string) {
      return this.model === "Client" ? clients.get(id) : store.get(this.key(id));
    }
    async findByUid(uid: string) {
      return [...store.entries()].find(
        ([key, value]) => key.startsWith(`${this.model}:`) && value.uid === uid,
      )?.[1];
    }
    async findByUserCode(userCode: string) {
      return [...store.entries()].find(
        ([key, value]) => key.startsWith(`${this.model}:`) && value.userCode === userCode,
      )?.[1];
    }
    async consume(id: string) {
      const payload = store.get(this.key(id));
      if (payload !== undefined) payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      store.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string) {
      for (const [key, value] of store) if (value.grantId === grantId) store.delete(key);
    }
  };
}
