import { generateKeyPairSync } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import {
  OAuthError,
  parseExchangeRequest,
  TOKEN_EXCHANGE_GRANT,
} from "../../src/token-exchange/exchange-request.js";
import { createFailureLimiter } from "../../src/token-exchange/failure-limiter.js";
import { loadLatchSigningKey, SIGNING_KEY_FILE } from "../../src/token-exchange/latch-signing-key.js";

const form = (params: [string, string][]) => new URLSearchParams(params).toString();
const refusal = (body: string) => {
  try {
    parseExchangeRequest(body);
  } catch (error) {
    return error instanceof OAuthError
      ? [error.code, error.description]
      : ["not an OAuthError", String(error)];
  }
  return ["accepted", ""];
};

describe("token exchange request parsing (RFC 8693 §2.1)", () => {
  const base: [string, string][] = [
    ["grant_type", TOKEN_EXCHANGE_GRANT],
    ["subject_token", "t"],
    ["subject_token_type", "urn:ietf:params:oauth:token-type:jwt"],
  ];
  it("takes audience and resource more than once, every other parameter once", () => {
    expect(
      parseExchangeRequest(form([...base, ["audience", "a"], ["resource", "r"], ["audience", "b"]])).targets,
    ).toEqual(["a", "r", "b"]);
    expect(refusal(form([...base, ["subject_token", "u"]]))[0]).toBe("invalid_request");
    expect(refusal(form([...base, ["grant_type", TOKEN_EXCHANGE_GRANT]]))[0]).toBe("invalid_request");
  });
  it("names the wrong grant unsupported_grant_type and a missing one invalid_request", () => {
    expect(refusal(form([["grant_type", "password"], ...base.slice(1)]))[0]).toBe("unsupported_grant_type");
    expect(refusal(form(base.slice(1)))[0]).toBe("invalid_request");
  });
  it("wants actor_token and actor_token_type together, and only access tokens requested", () => {
    expect(refusal(form([...base, ["actor_token", "x"]]))).toEqual([
      "invalid_request",
      "actor_token_type is required with actor_token",
    ]);
    expect(refusal(form([...base, ["actor_token_type", "urn:ietf:params:oauth:token-type:jwt"]]))[0]).toBe(
      "invalid_request",
    );
    expect(
      refusal(form([...base, ["requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"]]))[0],
    ).toBe("invalid_request");
  });
  it("never echoes a value, and prints an odd parameter name as unprintable", () => {
    const [, description] = refusal(form([...base, ["\u0000evil", "1"], ["\u0000evil", "secret-value"]]));
    expect(description).toBe("the parameter (unprintable) is repeated");
  });
});

describe("failed exchanges per address", () => {
  it("answers 429 past the limit until the minute is over, per address", () => {
    let now = 1_000_000;
    const limiter = createFailureLimiter({ maxPerWindow: 3, now: () => now });
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterSeconds("10.0.0.1")).toBe(0);
      limiter.failed("10.0.0.1");
    }
    expect(limiter.retryAfterSeconds("10.0.0.1")).toBe(60);
    expect(limiter.retryAfterSeconds("10.0.0.2")).toBe(0);
    now += 59_500;
    expect(limiter.retryAfterSeconds("10.0.0.1")).toBe(1);
    now += 500;
    expect(limiter.retryAfterSeconds("10.0.0.1")).toBe(0);
  });
});

describe("Latch's signing key", () => {
  const config = (dataDir: string, extra: Record<string, unknown> = {}) =>
    configSchema.parse({ data_dir: dataDir, identity: { token_exchange: { enabled: true, ...extra } } });

  it("is generated owner-only under data_dir once, and the same key is loaded again", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "latch-exchange-key-"));
    try {
      const first = await loadLatchSigningKey(config(dir));
      expect(first.alg).toBe("ES256");
      expect(statSync(path.join(dir, SIGNING_KEY_FILE)).mode & 0o777).toBe(0o600);
      expect((await loadLatchSigningKey(config(dir))).kid).toBe(first.kid);
      expect(first.publicJwk.d).toBeUndefined();
      chmodSync(path.join(dir, SIGNING_KEY_FILE), 0o644);
      await expect(loadLatchSigningKey(config(dir))).rejects.toThrow(/readable by other users/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes an Ed25519 key from a secret ref, refuses RSA, and wants one with a shared store", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "latch-exchange-key-"));
    try {
      const ed = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }) as string;
      writeFileSync(path.join(dir, "ed.pem"), ed, { mode: 0o600 });
      const key = await loadLatchSigningKey(config(dir, { signing_key: { file: path.join(dir, "ed.pem") } }));
      expect(key.alg).toBe("EdDSA");
      const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
        type: "pkcs8",
        format: "pem",
      });
      writeFileSync(path.join(dir, "rsa.pem"), rsa, { mode: 0o600 });
      await expect(
        loadLatchSigningKey(config(dir, { signing_key: { file: path.join(dir, "rsa.pem") } })),
      ).rejects.toThrow(/P-256 \(ES256\) or Ed25519/);
      const shared = configSchema.parse({
        data_dir: dir,
        store: "postgres://latch@db.internal/latch",
        identity: { token_exchange: { enabled: true } },
      });
      await expect(loadLatchSigningKey(shared)).rejects.toThrow(
        /signing_key is required with a shared store/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
