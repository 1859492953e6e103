import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { isLatchError } from "../../src/errors.js";
import { createTokenVerifier } from "../../src/identity/create-token-verifier.js";
import { mintDevToken } from "../../src/identity/dev-issuer.js";

/**
 * A token that expired within identity.clock_skew used to log in and die at its first statement (the session
 * ends at exp). It is refused at login instead (issue 18); the skew still forgives an issuer clock that runs
 * ahead (nbf), which is what it is for.
 */
let dataDir: string;
let token: string;
let exp: number;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "latch-expired-skew-"));
  token = await mintDevToken(dataDir, { subject: "alice", groups: ["agents"], ttlSeconds: 60 });
  exp = (JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as { exp: number }).exp;
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

function verifierAt(nowMs: number, clockSkew = "30s") {
  const { identity } = configSchema.parse({ identity: { dev_issuer: true, clock_skew: clockSkew } });
  return createTokenVerifier(identity, { dataDir, now: () => nowMs });
}

async function rejectionAt(nowMs: number) {
  const error = await verifierAt(nowMs)
    .verify(token)
    .then(
      () => undefined,
      (caught: unknown) => caught,
    );
  if (!isLatchError(error)) throw new Error(`expected a LatchError, got ${String(error)}`);
  return error;
}

describe("a token past exp but within clock_skew (issue 18)", () => {
  it("logs in until exp", async () => {
    await expect(verifierAt(exp * 1000 - 1).verify(token)).resolves.toMatchObject({
      subject: "alice",
      expiresAt: exp * 1000,
    });
  });

  it("is refused at login from exp on, with token_expired and when it expired", async () => {
    for (const after of [0, 1_000, 29_000]) {
      const error = await rejectionAt(exp * 1000 + after);
      expect(error.code).toBe("token_expired");
      expect(error.message).toBe(
        `token expired at ${new Date(exp * 1000).toISOString()}: fetch a fresh token and reconnect`,
      );
    }
  });

  it("and beyond the skew, as before", async () => {
    expect((await rejectionAt(exp * 1000 + 120_000)).code).toBe("token_expired");
  });

  it("the skew still forgives an issuer clock running ahead (nbf/iat in our future)", async () => {
    // The dev issuer sets iat (and nbf if any) to its own now: seen from a gateway 20 s behind, it is in the future.
    const issuedAt = (exp - 60) * 1000;
    await expect(verifierAt(issuedAt - 20_000).verify(token)).resolves.toBeDefined();
  });
});
