import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalJWKSet, exportJWK, generateKeyPair, type JWTVerifyGetKey, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { createTokenVerifier } from "../../src/identity/create-token-verifier.js";

const issuer = "https://latch.test/own";
const audience = "latch";

/** A real ES256 key set whose lookups are counted: a lookup means the signature is being checked. */
async function countedKeys() {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
  const set = createLocalJWKSet({ keys: [jwk] });
  const counter = { lookups: 0 };
  const keys: JWTVerifyGetKey = (header, token) => {
    counter.lookups++;
    return set(header, token);
  };
  const sign = (sub: string, expSeconds: number, aud = audience) =>
    new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer(issuer)
      .setAudience(aud)
      .setSubject(sub)
      .setExpirationTime(expSeconds)
      .sign(privateKey);
  return { keys, counter, sign };
}

describe("a verified token presented again", () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), "latch-verified-"));
  });

  const verifierWith = async (options: { ttl?: number; clock: { now: number } }) => {
    const counted = await countedKeys();
    const verifier = createTokenVerifier(configSchema.parse({ identity: { clock_skew: "30s" } }).identity, {
      dataDir,
      now: () => options.clock.now,
      ...(options.ttl === undefined ? {} : { verifiedTokenTtlMs: options.ttl }),
      localIssuer: { issuer, audience, algorithms: ["ES256"], keys: counted.keys },
    });
    return { verifier, ...counted };
  };

  it("is not checked again within the TTL, and is after it", async () => {
    const clock = { now: Date.now() };
    const { verifier, counter, sign } = await verifierWith({ clock });
    const token = await sign("alice", Math.floor(clock.now / 1000) + 3600);
    const first = await verifier.verify(token);
    expect(await verifier.verify(token)).toEqual(first);
    expect(counter.lookups).toBe(1);
    // Another token of the same subject is its own entry.
    await verifier.verify(await sign("alice", Math.floor(clock.now / 1000) + 3601));
    expect(counter.lookups).toBe(2);
    clock.now += 30_001;
    await verifier.verify(token);
    expect(counter.lookups).toBe(3);
  });

  it("is refused as expired once its exp passes, even inside the TTL", async () => {
    const clock = { now: Date.now() };
    const { verifier, sign } = await verifierWith({ clock });
    const token = await sign("bob", Math.floor(clock.now / 1000) + 5);
    await verifier.verify(token);
    clock.now += 6_000;
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: "token_expired" });
  });

  it("a refusal is never kept: a token for another audience is checked, and refused, each time", async () => {
    const clock = { now: Date.now() };
    const { verifier, counter, sign } = await verifierWith({ clock });
    const token = await sign("carol", Math.floor(clock.now / 1000) + 3600, "someone-else");
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: "token_invalid" });
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: "token_invalid" });
    expect(counter.lookups).toBe(2);
  });

  it("TTL 0 checks every presentation", async () => {
    const clock = { now: Date.now() };
    const { verifier, counter, sign } = await verifierWith({ ttl: 0, clock });
    const token = await sign("dave", Math.floor(clock.now / 1000) + 3600);
    await verifier.verify(token);
    await verifier.verify(token);
    expect(counter.lookups).toBe(2);
  });
});
