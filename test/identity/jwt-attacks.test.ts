import { createHmac, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  type CryptoKey,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  importPKCS8,
  type JWK,
  type JWTPayload,
  SignJWT,
} from "jose";
import { generate as generateCertificate } from "selfsigned";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { configSchema, type LatchConfig } from "../../src/config/schema.js";
import { isLatchError, type LatchError } from "../../src/errors.js";
import { createTokenVerifier, MAX_TOKEN_BYTES } from "../../src/identity/create-token-verifier.js";
import type { TokenVerifier } from "../../src/identity/identity.js";
import { type JwksServer, startJwksServer } from "../support/jwks-server.js";

// RFC 8725 (JWT BCP) and the OWASP JWT cheat sheet, attack by attack, against keys served over real HTTP.

interface SigningKey {
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly alg: "RS256" | "ES256";
  readonly kid: string;
}

async function makeKey(alg: "RS256" | "ES256", kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, alg, kid, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

const b64 = (value: string | Buffer) => Buffer.from(value).toString("base64url");
const b64json = (value: unknown) => b64(JSON.stringify(value));
const nowSeconds = () => Math.floor(Date.now() / 1000);

let server: JwksServer;
let dataDir: string;
let verifier: TokenVerifier;
let rsa: SigningKey;
let ec: SigningKey;
let attackerRsa: SigningKey;
let issuer: string;

function identityConfig(issuers: unknown[], extra: Record<string, unknown> = {}): LatchConfig["identity"] {
  return configSchema.parse({ identity: { issuers, clock_skew: "30s", ...extra } }).identity;
}

function claims(overrides: JWTPayload = {}): JWTPayload {
  return {
    iss: issuer,
    aud: "latch",
    sub: "agent-7",
    iat: nowSeconds(),
    exp: nowSeconds() + 300,
    jti: randomUUID(),
    groups: ["agents"],
    ...overrides,
  };
}

/** Signs `payload` as-is (undefined members dropped), so tests can leave out claims jose would add. */
function sign(
  payload: JWTPayload,
  key: SigningKey = rsa,
  header: Record<string, unknown> = {},
): Promise<string> {
  const cleaned = Object.fromEntries(Object.entries(payload).filter(([, value]) => value !== undefined));
  return new SignJWT(cleaned)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header })
    .sign(key.privateKey);
}

/** Verifies a token that must be refused, and checks the refusal never echoes the token back. */
async function rejection(token: string, using: TokenVerifier = verifier): Promise<LatchError> {
  const outcome = await using.verify(token).then(
    (identity) => ({ accepted: identity }),
    (error: unknown) => ({ error }),
  );
  if ("accepted" in outcome) throw new Error(`token was accepted: ${JSON.stringify(outcome.accepted)}`);
  const { error } = outcome;
  if (!isLatchError(error)) throw error;
  expect(error.spec.class).toBe("identity");
  for (const part of token.split(".")) {
    if (part.length >= 12) expect(error.message).not.toContain(part);
  }
  return error;
}

beforeAll(async () => {
  server = await startJwksServer();
  issuer = server.base;
  [rsa, ec, attackerRsa] = await Promise.all([
    makeKey("RS256", "rsa-1"),
    makeKey("ES256", "ec-1"),
    makeKey("RS256", "attacker"),
  ]);
  server.keySets.set("/jwks", [rsa.publicJwk, ec.publicJwk]);
  server.keySets.set("/attacker-jwks", [attackerRsa.publicJwk]);
  dataDir = await mkdtemp(path.join(tmpdir(), "latch-jwt-"));
  verifier = createTokenVerifier(
    identityConfig([
      { issuer, jwks_uri: `${issuer}/jwks` },
      { issuer: `${issuer}/es-only`, jwks_uri: `${issuer}/jwks`, algorithms: ["ES256"] },
      { issuer: `${issuer}/nested`, jwks_uri: `${issuer}/jwks`, groups_claim: "realm_access.roles" },
    ]),
    { dataDir },
  );
});

afterAll(async () => {
  await server?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("well-formed tokens (the baseline the attacks differ from)", () => {
  it("accepts RS256 and ES256 tokens signed by the issuer's keys", async () => {
    const payload = claims();
    await expect(verifier.verify(await sign(payload, rsa))).resolves.toEqual({
      subject: "agent-7",
      issuer,
      groups: ["agents"],
      expiresAt: (payload.exp as number) * 1000,
      tokenId: payload.jti,
    });
    await expect(verifier.verify(await sign(claims(), ec))).resolves.toMatchObject({ subject: "agent-7" });
  });
});

describe("algorithm attacks", () => {
  it.each(["none", "None", "NONE", "nOnE"])("rejects alg %s, with or without a signature", async (alg) => {
    const unsigned = `${b64json({ alg, typ: "JWT" })}.${b64json(claims())}`;
    for (const token of [`${unsigned}.`, `${unsigned}.${b64("forged")}`]) {
      const error = await rejection(token);
      expect(error.code).toBe("token_invalid");
      expect(error.message).toContain(`algorithm "${alg}" is not accepted for issuer ${issuer}`);
    }
  });

  it("rejects HS256 signed with the issuer's RSA public key as the HMAC secret (alg confusion)", async () => {
    const publicPem = await exportSPKI((await importJWK(rsa.publicJwk, "RS256")) as CryptoKey);
    const secrets = [publicPem, JSON.stringify(rsa.publicJwk), rsa.publicJwk.n as string];
    for (const secret of secrets) {
      const input = `${b64json({ alg: "HS256", typ: "JWT", kid: rsa.kid })}.${b64json(claims())}`;
      const token = `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
      const error = await rejection(token);
      expect(error.message).toContain('algorithm "HS256" is not accepted');
    }
  });

  it("rejects an RS256 token, validly signed, when the issuer pins ES256 only", async () => {
    const token = await sign(claims({ iss: `${issuer}/es-only` }), rsa);
    const error = await rejection(token);
    expect(error.message).toBe(
      `token rejected: algorithm "RS256" is not accepted for issuer ${issuer}/es-only (allowed: ES256)`,
    );
    await expect(
      verifier.verify(await sign(claims({ iss: `${issuer}/es-only` }), ec)),
    ).resolves.toBeDefined();
  });

  it("refuses a configuration that would accept a symmetric algorithm", () => {
    const identity = identityConfig([{ issuer, jwks_uri: `${issuer}/jwks` }]);
    const tampered = { ...identity, issuers: [{ ...identity.issuers[0]!, algorithms: ["HS256"] as never }] };
    expect(() => createTokenVerifier(tampered, { dataDir })).toThrow(/no asymmetric algorithm/);
  });
});

describe("issuer and audience", () => {
  it("rejects an issuer that is not configured, naming it", async () => {
    const error = await rejection(await sign(claims({ iss: "https://evil.example" })));
    expect(error.code).toBe("issuer_unknown");
    expect(error.message).toContain('"https://evil.example"');
  });

  it("matches the issuer exactly: a trailing slash is another issuer", async () => {
    const error = await rejection(await sign(claims({ iss: `${issuer}/` })));
    expect(error.code).toBe("issuer_unknown");
  });

  it("rejects a token without iss", async () => {
    const error = await rejection(await sign(claims({ iss: undefined })));
    expect(error.message).toBe("token rejected: token has no iss claim");
  });

  it("rejects aud missing, wrong, or an array without us; accepts an array with us", async () => {
    expect((await rejection(await sign(claims({ aud: undefined })))).message).toBe(
      "token rejected: token has no aud claim",
    );
    for (const aud of ["latch-staging", ["billing", "crm"], [], "LATCH"]) {
      const error = await rejection(await sign(claims({ aud })));
      expect(error.message).toBe("token rejected: audience does not include latch");
    }
    await expect(verifier.verify(await sign(claims({ aud: ["billing", "latch"] })))).resolves.toBeDefined();
  });
});

describe("time claims (skew 30s)", () => {
  it("requires exp", async () => {
    const error = await rejection(await sign(claims({ exp: undefined })));
    expect(error.message).toBe("token rejected: token has no exp claim (an expiry is required)");
  });

  it("rejects a non-numeric exp", async () => {
    const error = await rejection(await sign(claims({ exp: "tomorrow" as never })));
    expect(error.code).toBe("token_invalid");
  });

  it("rejects a token expired beyond the skew with token_expired and the expiry time", async () => {
    const exp = nowSeconds() - 120;
    const error = await rejection(await sign(claims({ exp })));
    expect(error.code).toBe("token_expired");
    expect(error.message).toContain(`token expired at ${new Date(exp * 1000).toISOString()}`);
  });

  it("refuses a token expired within the skew too (issue 18: its session would end at exp anyway)", async () => {
    const error = await rejection(await sign(claims({ exp: nowSeconds() - 10 })));
    expect(error.code).toBe("token_expired");
  });

  it("rejects nbf in the future beyond the skew, accepts it within", async () => {
    const nbf = nowSeconds() + 120;
    const error = await rejection(await sign(claims({ nbf })));
    expect(error.message).toBe(
      `token rejected: token not valid before ${new Date(nbf * 1000).toISOString()}`,
    );
    await expect(verifier.verify(await sign(claims({ nbf: nowSeconds() + 10 })))).resolves.toBeDefined();
  });
});

describe("key selection attacks", () => {
  it("rejects a token signed by an unknown key that claims the issuer's kid", async () => {
    const impostor = { ...attackerRsa, kid: rsa.kid };
    const error = await rejection(await sign(claims(), impostor));
    expect(error.message).toBe("token rejected: signature does not verify");
  });

  it("rejects a kid that is not in the key set", async () => {
    const error = await rejection(await sign(claims(), attackerRsa));
    expect(error.message).toBe(
      `token rejected: no signing key of ${issuer} matches the token's key id (kid)`,
    );
  });

  it("never fetches or uses a key named by jku or x5u", async () => {
    const before = server.hits("/attacker-jwks");
    for (const header of [{ jku: `${issuer}/attacker-jwks` }, { x5u: `${issuer}/attacker-jwks` }]) {
      const error = await rejection(await sign(claims(), attackerRsa, header));
      expect(error.code).toBe("token_invalid");
    }
    expect(server.hits("/attacker-jwks")).toBe(before);
  });

  it("ignores a public key embedded in the header (jwk), with or without a kid", async () => {
    const withKid = await sign(claims(), attackerRsa, { jwk: attackerRsa.publicJwk });
    expect((await rejection(withKid)).code).toBe("token_invalid");
    const { kid: _dropped, ...jwkWithoutKid } = attackerRsa.publicJwk;
    const withoutKid = await new SignJWT(claims())
      .setProtectedHeader({ alg: "RS256", jwk: jwkWithoutKid })
      .sign(attackerRsa.privateKey);
    expect((await rejection(withoutKid)).message).toBe("token rejected: signature does not verify");
  });

  it("ignores an attacker certificate chain in x5c", async () => {
    const pems = await generateCertificate([{ name: "commonName", value: "idp.example" }], { keySize: 2048 });
    const certificate = pems.cert.replace(/-----[^-]+-----|\s/g, "");
    const key = await importPKCS8(pems.private, "RS256");
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: "RS256", x5c: [certificate] })
      .sign(key);
    expect((await rejection(token)).message).toBe("token rejected: signature does not verify");
  });

  it("stops accepting a key once the issuer removed it and the key set was refreshed", async () => {
    const rotating = await makeKey("ES256", "rotating-1");
    server.keySets.set("/rotating-jwks", [rotating.publicJwk, ec.publicJwk]);
    const shortCache = createTokenVerifier(
      identityConfig([{ issuer, jwks_uri: `${issuer}/rotating-jwks` }]),
      {
        dataDir,
        jwksCacheMaxAgeMs: 150,
      },
    );
    await expect(shortCache.verify(await sign(claims(), rotating))).resolves.toBeDefined();
    server.keySets.set("/rotating-jwks", [ec.publicJwk]);
    // The cache ages by the wall clock: move it instead of waiting.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 200 });
    try {
      const error = await rejection(await sign(claims(), rotating), shortCache);
      expect(error.message).toContain("matches the token's key id");
      await expect(shortCache.verify(await sign(claims(), ec))).resolves.toBeDefined();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("header and shape attacks", () => {
  it("rejects a critical header parameter it does not understand", async () => {
    // The attacker's signer understands the extension; the verifier does not, so it must refuse (RFC 7515 4.1.11).
    const token = await new SignJWT(claims())
      .setProtectedHeader({
        alg: "RS256",
        kid: rsa.kid,
        crit: ["urn:example:must-check"],
        "urn:example:must-check": 1,
      })
      .sign(rsa.privateKey, { crit: { "urn:example:must-check": true } });
    const error = await rejection(token);
    expect(error.message).toBe(
      "token rejected: token marks a header parameter as critical (crit) that Latch does not understand",
    );
  });

  it("rejects a token over the size cap before parsing it", async () => {
    const token = await sign(claims({ padding: "x".repeat(MAX_TOKEN_BYTES) }));
    const error = await rejection(token);
    expect(error.message).toBe(`token rejected: token is larger than ${MAX_TOKEN_BYTES} bytes`);
    const garbage = "A".repeat(MAX_TOKEN_BYTES + 1);
    expect((await rejection(garbage)).message).toContain("larger than");
  });

  it.each([
    ["two parts", `${b64json({ alg: "RS256" })}.${b64json({ iss: "x" })}`, "3 dot-separated parts"],
    ["bad base64", "eyJ!!!.@@@@.####", "not base64url-encoded JSON"],
    ["JSON garbage", `${b64("{not json")}.${b64("[1,2")}.${b64("sig")}`, "not base64url-encoded JSON"],
    ["a JSON array payload", `${b64json({ alg: "RS256" })}.${b64json(["iss"])}.${b64("sig")}`, "base64url"],
    ["an encrypted token (JWE)", "a.b.c.d.e", "encrypted tokens (JWE) are not accepted"],
  ])("rejects a malformed token: %s", async (_name, token, reason) => {
    const error = await rejection(token);
    expect(error.code).toBe("token_invalid");
    expect(error.message).toContain(reason);
  });

  it("answers token_missing for an empty password", async () => {
    expect((await rejection("")).code).toBe("token_missing");
  });
});

describe("subject and groups", () => {
  it("rejects an empty, missing, non-string or control-character sub", async () => {
    expect((await rejection(await sign(claims({ sub: "" })))).message).toContain("sub claim is empty");
    expect((await rejection(await sign(claims({ sub: undefined })))).message).toContain("no sub claim");
    expect((await rejection(await sign(claims({ sub: 42 as never })))).code).toBe("token_invalid");
    expect((await rejection(await sign(claims({ sub: "alice\nadmin" })))).message).toContain(
      "control characters",
    );
  });

  it("reads groups from a nested claim path", async () => {
    const token = await sign(
      claims({ iss: `${issuer}/nested`, groups: ["ignored"], realm_access: { roles: ["dba", "oncall"] } }),
    );
    await expect(verifier.verify(token)).resolves.toMatchObject({ groups: ["dba", "oncall"] });
  });

  it("accepts a space or comma separated groups string, and nothing else", async () => {
    await expect(
      verifier.verify(await sign(claims({ groups: "agents readers,ops" }))),
    ).resolves.toMatchObject({
      groups: ["agents", "readers", "ops"],
    });
    for (const groups of [{ admin: true }, ["agents", 7], 1]) {
      await expect(verifier.verify(await sign(claims({ groups })))).resolves.toMatchObject({ groups: [] });
    }
  });
});
