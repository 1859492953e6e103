import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { calculateJwkThumbprint, exportJWK, type JWK } from "jose";
import type { LatchConfig } from "../config/schema.js";
import { resolveSecret } from "../config/secrets.js";
import { LatchError } from "../errors.js";

/** The embedded default's key, generated on first start: owner-only, like everything under data_dir. */
export const SIGNING_KEY_FILE = "token-exchange-key.pem";

export interface LatchSigningKey {
  readonly alg: "ES256" | "EdDSA";
  readonly kid: string;
  readonly privateKey: KeyObject;
  /** The public half as published in /.well-known/jwks.json. */
  readonly publicJwk: JWK;
}

/**
 * Latch's own issuer key: `identity.token_exchange.signing_key` (a secret ref holding a PKCS#8 PEM, P-256 or
 * Ed25519), else on the embedded store a P-256 key under data_dir, created on first start. On a shared store
 * without a configured key the gateway refuses to start: each replica would sign with a key the others
 * do not know.
 */
export async function loadLatchSigningKey(
  config: Pick<LatchConfig, "identity" | "data_dir" | "store">,
): Promise<LatchSigningKey> {
  const settings = config.identity.token_exchange;
  let pem: string;
  let source: string;
  if (settings.signing_key !== undefined) {
    pem = resolveSecret(settings.signing_key, "identity.token_exchange.signing_key");
    source = "identity.token_exchange.signing_key";
  } else {
    if (config.store !== "sqlite")
      throw new LatchError("config_invalid", {
        detail:
          "identity.token_exchange.signing_key is required with a shared store: every replica must sign with the same key",
      });
    const file = path.join(config.data_dir, SIGNING_KEY_FILE);
    if (!existsSync(file)) {
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      writeFileSync(file, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
    }
    if (process.platform !== "win32" && (statSync(file).mode & 0o077) !== 0)
      throw new LatchError("config_invalid", {
        detail: `${file} holds a private key but is readable by other users: run chmod 600 ${file}`,
      });
    pem = readFileSync(file, "utf8");
    source = file;
  }
  return parseSigningKey(pem, source);
}

export async function parseSigningKey(pem: string, source: string): Promise<LatchSigningKey> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new LatchError("config_invalid", { detail: `${source}: not a PEM private key` });
  }
  const type = privateKey.asymmetricKeyType;
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  const alg = type === "ed25519" ? "EdDSA" : type === "ec" && curve === "prime256v1" ? "ES256" : undefined;
  if (alg === undefined)
    throw new LatchError("config_invalid", {
      detail: `${source}: the key must be EC P-256 (ES256) or Ed25519 (EdDSA), not ${type ?? "unknown"}${curve ? ` ${curve}` : ""}`,
    });
  const jwk = await exportJWK(createPublicKey(privateKey));
  const kid = await calculateJwkThumbprint(jwk);
  return { alg, kid, privateKey, publicJwk: { ...jwk, kid, alg, use: "sig" } };
}
