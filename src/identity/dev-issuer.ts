import { randomUUID } from "node:crypto";
import { link, mkdir, readFile, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTVerifyGetKey,
  SignJWT,
} from "jose";

/**
 * The local development issuer behind `latch token` and `latch demo`: one ES256 key pair kept under the data
 * dir. The gateway trusts it only when `identity.dev_issuer` is true, so it can never vouch for anyone in a
 * deployment that did not opt in.
 */
export const DEV_ISSUER = "latch-dev";
export const DEV_AUDIENCE = "latch";
export const DEV_ALGORITHM = "ES256";
export const DEV_ISSUER_FILE = "dev-issuer.json";

/** Dev tokens are for a working session, not for leaving in a shell profile. */
export const MAX_DEV_TOKEN_TTL_SECONDS = 24 * 60 * 60;

interface StoredDevIssuer {
  readonly version: 1;
  readonly kid: string;
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
  readonly createdAt: string;
}

export interface DevTokenRequest {
  readonly subject: string;
  readonly groups: readonly string[];
  readonly ttlSeconds: number;
}

export function devIssuerPath(dataDir: string): string {
  return path.join(dataDir, DEV_ISSUER_FILE);
}

/** Signs a token as the dev issuer, creating the key pair on first use. */
export async function mintDevToken(dataDir: string, request: DevTokenRequest): Promise<string> {
  if (request.subject.trim() === "") throw new RangeError("a dev token needs a non-empty subject");
  if (
    !Number.isInteger(request.ttlSeconds) ||
    request.ttlSeconds < 1 ||
    request.ttlSeconds > MAX_DEV_TOKEN_TTL_SECONDS
  ) {
    throw new RangeError(
      `token lifetime must be between 1 second and ${MAX_DEV_TOKEN_TTL_SECONDS / 3600} hours`,
    );
  }
  const stored = await loadOrCreateDevIssuer(dataDir);
  const privateKey = await importJWK(stored.privateJwk, DEV_ALGORITHM);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ groups: [...request.groups] })
    .setProtectedHeader({ alg: DEV_ALGORITHM, kid: stored.kid, typ: "JWT" })
    .setIssuer(DEV_ISSUER)
    .setAudience(DEV_AUDIENCE)
    .setSubject(request.subject)
    .setIssuedAt(now)
    .setExpirationTime(now + request.ttlSeconds)
    .setJti(randomUUID())
    .sign(privateKey);
}

/** Key resolver holding only the dev issuer's public key; loaded (or created) on first use, no network. */
export function createDevIssuerKeys(dataDir: string): JWTVerifyGetKey {
  let loading: Promise<JWTVerifyGetKey> | undefined;
  const keys = () => {
    loading ??= loadOrCreateDevIssuer(dataDir)
      .then((stored) => createLocalJWKSet({ keys: [stored.publicJwk] }))
      .catch((error: unknown) => {
        // An unreadable file is retried on the next token rather than remembered forever.
        loading = undefined;
        throw error;
      });
    return loading;
  };
  return async (protectedHeader, token) => (await keys())(protectedHeader, token);
}

/**
 * Reads the persisted key pair, or creates it. Creation writes a private temp file and hard-links it into
 * place, which fails if the file appeared meanwhile: two processes starting together end up sharing
 * whichever key won, and nobody ever reads a half-written file.
 */
export async function loadOrCreateDevIssuer(dataDir: string): Promise<StoredDevIssuer> {
  const file = devIssuerPath(dataDir);
  const existing = await readStored(file);
  if (existing !== undefined) return existing;

  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const { publicKey, privateKey } = await generateKeyPair(DEV_ALGORITHM, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const stored: StoredDevIssuer = {
    version: 1,
    kid,
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: DEV_ALGORITHM },
    publicJwk: { ...publicJwk, kid, alg: DEV_ALGORITHM, use: "sig" },
    createdAt: new Date().toISOString(),
  };
  const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(temp, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  try {
    await link(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  const winner = await readStored(file);
  if (winner === undefined) throw new Error(`${file} vanished while it was being created`);
  return winner;
}

async function readStored(file: string): Promise<StoredDevIssuer | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  if (process.platform !== "win32" && ((await stat(file)).mode & 0o077) !== 0) {
    throw new Error(`${file} holds a private key but is readable by other users: run chmod 600 ${file}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON: delete it to generate a new dev issuer key`);
  }
  if (!isStoredDevIssuer(parsed)) {
    throw new Error(`${file} is not a Latch dev issuer key: delete it to generate a new one`);
  }
  return parsed;
}

function isStoredDevIssuer(value: unknown): value is StoredDevIssuer {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Partial<StoredDevIssuer>;
  const isP256 = (jwk: JWK | undefined) => jwk?.kty === "EC" && jwk.crv === "P-256";
  return (
    candidate.version === 1 &&
    typeof candidate.kid === "string" &&
    isP256(candidate.privateJwk) &&
    typeof candidate.privateJwk?.d === "string" &&
    isP256(candidate.publicJwk) &&
    candidate.publicJwk?.d === undefined
  );
}
