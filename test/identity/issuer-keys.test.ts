import { randomUUID } from "node:crypto";
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { isLatchError } from "../../src/errors.js";
import { createTokenVerifier, type TokenVerifierOptions } from "../../src/identity/create-token-verifier.js";
import { type JwksServer, startJwksServer } from "../support/jwks-server.js";

// How often the verifier goes to the network: counted at a real HTTP server, not with a mocked fetch.

interface Key {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

async function makeKey(kid = randomUUID()): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256" } };
}

let server: JwksServer;

beforeEach(async () => {
  server = await startJwksServer();
  // Only the wall clock is faked: cooldowns, cache ages and retry delays read Date.now(), and the tests move
  // it instead of waiting. Sockets and timers stay real.
  vi.useFakeTimers({ toFake: ["Date"] });
});
afterEach(async () => {
  vi.useRealTimers();
  await server.close();
});

function verifierFor(issuerConfig: Record<string, unknown>, options: Partial<TokenVerifierOptions> = {}) {
  const identity = configSchema.parse({ identity: { issuers: [{ issuer: server.base, ...issuerConfig }] } });
  return createTokenVerifier(identity.identity, { dataDir: "/nonexistent", ...options });
}

function tokenFor(key: Key, iss = server.base): Promise<string> {
  return new SignJWT({ groups: [] })
    .setProtectedHeader({ alg: "ES256", kid: key.kid })
    .setIssuer(iss)
    .setAudience("latch")
    .setSubject("svc")
    .setExpirationTime("5m")
    .sign(key.privateKey);
}

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => new Error("accepted"),
    (caught: unknown) => caught,
  );
  if (!isLatchError(error)) throw error;
  return error.message;
}

/** Moves the wall clock forward without waiting. */
const advanceClock = (ms: number) => vi.setSystemTime(Date.now() + ms);

describe("JWKS fetching", () => {
  it("fetches once for many concurrent tokens with unknown kids (single flight, cooldown)", async () => {
    const known = await makeKey();
    server.keySets.set("/jwks", [known.publicJwk]);
    const verifier = verifierFor({ jwks_uri: `${server.base}/jwks` });
    const strangers = await Promise.all(Array.from({ length: 50 }, () => makeKey()));
    const results = await Promise.allSettled(
      strangers.map(async (key) => verifier.verify(await tokenFor(key))),
    );
    expect(results.every((result) => result.status === "rejected")).toBe(true);
    expect(server.hits("/jwks")).toBe(1);
    // Still cooling down: another wave costs nothing, and known keys keep working from the cache.
    await Promise.allSettled(strangers.map(async (key) => verifier.verify(await tokenFor(key))));
    await expect(verifier.verify(await tokenFor(known))).resolves.toMatchObject({ subject: "svc" });
    expect(server.hits("/jwks")).toBe(1);
  });

  it("picks up a new key after the cooldown with one refetch for a burst of tokens", async () => {
    const first = await makeKey();
    const rotated = await makeKey();
    server.keySets.set("/jwks", [first.publicJwk]);
    const verifier = verifierFor({ jwks_uri: `${server.base}/jwks` }, { jwksCooldownMs: 150 });
    await verifier.verify(await tokenFor(first));
    server.keySets.set("/jwks", [first.publicJwk, rotated.publicJwk]);
    // Within the cooldown the new kid is unknown and the issuer is not asked again.
    expect(await reasonOf(verifier.verify(await tokenFor(rotated)))).toContain("matches the token's key id");
    expect(server.hits("/jwks")).toBe(1);
    advanceClock(200);
    const burst = await Promise.all(Array.from({ length: 20 }, () => tokenFor(rotated)));
    const identities = await Promise.all(burst.map((token) => verifier.verify(token)));
    expect(identities).toHaveLength(20);
    expect(server.hits("/jwks")).toBe(2);
  });

  it("fails closed when the JWKS endpoint is down, without hammering it, and recovers", async () => {
    const key = await makeKey();
    server.keySets.set("/jwks", [key.publicJwk]);
    server.failures.set("/jwks", 503);
    const verifier = verifierFor({ jwks_uri: `${server.base}/jwks` }, { retryAfterFailureMs: 200 });
    const token = await tokenFor(key);
    expect(await reasonOf(verifier.verify(token))).toBe(
      `token rejected: signing keys of ${server.base} are unavailable: key set ${server.base}/jwks answered HTTP 503`,
    );
    for (let attempt = 0; attempt < 10; attempt++) await verifier.verify(token).catch(() => undefined);
    expect(server.hits("/jwks")).toBe(1);
    server.failures.delete("/jwks");
    advanceClock(250);
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: "svc" });
    expect(server.hits("/jwks")).toBe(2);
  });

  it("gives up on a JWKS endpoint that does not answer within the fetch timeout", async () => {
    const key = await makeKey();
    server.stalls.add("/jwks");
    const verifier = verifierFor({ jwks_uri: `${server.base}/jwks` }, { fetchTimeoutMs: 200 });
    const reason = await reasonOf(verifier.verify(await tokenFor(key)));
    expect(reason).toBe(
      `token rejected: signing keys of ${server.base} are unavailable: key set ${server.base}/jwks could not be fetched: timed out`,
    );
  });

  it("reports an unreachable JWKS endpoint as unavailable keys", async () => {
    const key = await makeKey();
    const verifier = verifierFor({ jwks_uri: "http://127.0.0.1:9/jwks" });
    expect(await reasonOf(verifier.verify(await tokenFor(key)))).toMatch(
      /signing keys of .* are unavailable: key set http:\/\/127.0.0.1:9\/jwks could not be fetched/,
    );
  });
});

describe("OIDC discovery", () => {
  it("discovers the JWKS once and reuses it", async () => {
    const key = await makeKey();
    server.keySets.set("/jwks", [key.publicJwk]);
    const verifier = verifierFor({});
    await Promise.all(Array.from({ length: 10 }, async () => verifier.verify(await tokenFor(key))));
    await verifier.verify(await tokenFor(key));
    expect(server.hits("/.well-known/openid-configuration")).toBe(1);
    expect(server.hits("/jwks")).toBe(1);
  });

  it("retries a failed discovery later instead of caching the failure forever", async () => {
    const key = await makeKey();
    server.keySets.set("/jwks", [key.publicJwk]);
    server.failures.set("/.well-known/openid-configuration", 500);
    const verifier = verifierFor({}, { retryAfterFailureMs: 150 });
    const token = await tokenFor(key);
    expect(await reasonOf(verifier.verify(token))).toContain("openid-configuration answered HTTP 500");
    await verifier.verify(token).catch(() => undefined);
    expect(server.hits("/.well-known/openid-configuration")).toBe(1);
    server.failures.delete("/.well-known/openid-configuration");
    advanceClock(200);
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: "svc" });
    expect(server.hits("/.well-known/openid-configuration")).toBe(2);
  });

  it("refuses a discovery document that names another issuer", async () => {
    const key = await makeKey();
    server.keySets.set("/jwks", [key.publicJwk]);
    server.discovery = { issuer: "https://someone-else.example", jwks_uri: `${server.base}/jwks` };
    const reason = await reasonOf(verifierFor({}).verify(await tokenFor(key)));
    expect(reason).toContain('names issuer "https://someone-else.example"');
    expect(server.hits("/jwks")).toBe(0);
  });

  it("refuses a discovered jwks_uri over plain http to a non-loopback host", async () => {
    const key = await makeKey();
    server.discovery = { issuer: server.base, jwks_uri: "http://keys.example/jwks" };
    const reason = await reasonOf(verifierFor({}).verify(await tokenFor(key)));
    expect(reason).toContain("must use https");
  });

  it("refuses a configured jwks_uri over plain http to a non-loopback host at startup", () => {
    expect(() => verifierFor({ jwks_uri: "http://keys.example/jwks" })).toThrow(/must use https/);
  });
});
