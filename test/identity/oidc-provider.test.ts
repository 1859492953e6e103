import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { isLatchError } from "../../src/errors.js";
import { createTokenVerifier } from "../../src/identity/create-token-verifier.js";
import type { TokenVerifier } from "../../src/identity/identity.js";
import { SIGNING_KID, startOidcProvider, type TestOidcProvider } from "../support/oidc-provider.js";

// The verifier against a real OIDC provider, found through discovery only (no jwks_uri configured).
describe("token verifier with a real OIDC provider (oidc-provider, client_credentials)", () => {
  let provider: TestOidcProvider;
  let verifier: TokenVerifier;
  let dataDir: string;

  beforeAll(async () => {
    provider = await startOidcProvider();
    dataDir = await mkdtemp(path.join(tmpdir(), "latch-oidc-"));
    const config = configSchema.parse({
      identity: { issuers: [{ issuer: provider.issuer, audience: "latch", subject_prefix: "ci:" }] },
    });
    verifier = createTokenVerifier(config.identity, { dataDir });
  });

  afterAll(async () => {
    await provider?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("issues a real signed JWT access token over HTTP", async () => {
    const token = await provider.mintToken("build-bot", ["agents"]);
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "RS256", kid: SIGNING_KID, typ: "at+jwt" });
    expect(decodeJwt(token)).toMatchObject({ iss: provider.issuer, aud: "latch", sub: "build-bot" });
  });

  it("verifies a valid token into an identity with groups", async () => {
    const token = await provider.mintToken("build-bot", ["agents", "readers"]);
    const claims = decodeJwt(token);
    const identity = await verifier.verify(token);
    expect(identity).toEqual({
      subject: "ci:build-bot",
      issuer: provider.issuer,
      groups: ["agents", "readers"],
      expiresAt: (claims.exp as number) * 1000,
      tokenId: claims.jti,
    });
  });

  it("keeps subjects apart: each client gets its own sub and groups", async () => {
    const [alice, bob] = await Promise.all([
      provider.mintToken("alice", ["dba"]),
      provider.mintToken("bob", []),
    ]);
    await expect(verifier.verify(alice)).resolves.toMatchObject({ subject: "ci:alice", groups: ["dba"] });
    await expect(verifier.verify(bob)).resolves.toMatchObject({ subject: "ci:bob", groups: [] });
  });

  it("group_prefix puts this issuer's groups in a namespace of their own", async () => {
    const prefixed = createTokenVerifier(
      configSchema.parse({
        identity: { issuers: [{ issuer: provider.issuer, audience: "latch", group_prefix: "ci:" }] },
      }).identity,
      { dataDir },
    );
    // An issuer whose users can name their own groups cannot claim "platform-admins" as is.
    const token = await provider.mintToken("outsider", ["platform-admins"]);
    await expect(prefixed.verify(token)).resolves.toMatchObject({ groups: ["ci:platform-admins"] });
  });

  it("rejects a token the same provider issued for a different resource (audience)", async () => {
    const token = await provider.mintToken("build-bot", ["agents"], { audience: "billing-api" });
    expect(decodeJwt(token).aud).toBe("billing-api");
    const error = await verifier.verify(token).catch((caught: unknown) => caught);
    expect(isLatchError(error) && error.code).toBe("token_invalid");
    expect((error as Error).message).toBe("token rejected: audience does not include latch");
  });

  it("rejects a provider token with one signature byte changed", async () => {
    const token = await provider.mintToken("build-bot", ["agents"]);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const flipped = signature.startsWith("A") ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    await expect(verifier.verify(`${header}.${payload}.${flipped}`)).rejects.toThrow(
      "token rejected: signature does not verify",
    );
  });
});
