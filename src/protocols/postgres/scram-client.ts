import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import type { ScramKeyCache, ScramKeys } from "./scram-key-cache.js";

const pbkdf2Async = promisify(pbkdf2);

/** A hostile server could ask for billions of PBKDF2 rounds to stall us; node-postgres caps at the same. */
export const MAX_SCRAM_ITERATIONS = 100_000;

/** Where derived keys may be kept: only for the gateway's static credential of one connection. */
export interface ScramKeyStore {
  readonly cache: ScramKeyCache;
  readonly slot: string;
}

/**
 * The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it, with node:crypto: the same
 * checks node-postgres makes (server nonce extends ours, printable, base64 salt, iteration cap) and the server's
 * signature compared in constant time. Channel binding is not offered (gs2 header "n"), so nothing can be
 * downgraded silently: the server signature is always required. PBKDF2 runs off the event loop, and only when
 * the key store has no keys for this password, salt and iteration count.
 */
export class ScramClient {
  readonly mechanism = "SCRAM-SHA-256";
  private readonly clientNonce = randomBytes(18).toString("base64");
  private state: "started" | "proved" | "verified" = "started";
  private expectedServerSignature: Buffer | undefined;
  private pending: { salt: string; iterations: number; keys: ScramKeys } | undefined;

  constructor(
    private readonly password: string,
    private readonly store?: ScramKeyStore,
  ) {}

  static choose(mechanisms: readonly string[]): void {
    if (!mechanisms.includes("SCRAM-SHA-256"))
      throw new Error(`SASL: only SCRAM-SHA-256 is supported, the server offers ${mechanisms.join(", ")}`);
  }

  /** client-first-message. */
  get initialResponse(): string {
    return `n,,${this.clientFirstBare}`;
  }

  private get clientFirstBare(): string {
    return `n=*,r=${this.clientNonce}`;
  }

  /** Answers server-first-message with client-final-message (the proof). */
  async respond(serverFirst: string): Promise<string> {
    if (this.state !== "started") throw new Error("SASL: unexpected server-first-message");
    if (this.password === "") throw new Error("SASL: the password is empty");
    const { nonce, salt, iterations } = parseServerFirst(serverFirst);
    if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length)
      throw new Error("SASL: the server nonce does not extend the client nonce");
    const keys =
      this.store?.cache.lookup(this.store.slot, this.password, salt, iterations) ??
      (await deriveKeys(this.password, salt, iterations));
    const clientFinalWithoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;
    const clientSignature = hmac(keys.storedKey, authMessage);
    const proof = Buffer.alloc(clientSignature.length);
    for (let i = 0; i < proof.length; i++) proof[i] = keys.clientKey[i]! ^ clientSignature[i]!;
    this.expectedServerSignature = hmac(keys.serverKey, authMessage);
    this.pending = { salt, iterations, keys };
    this.state = "proved";
    return `${clientFinalWithoutProof},p=${proof.toString("base64")}`;
  }

  /** Checks server-final-message; only a server that knows the password's keys gets past this. */
  verify(serverFinal: string): void {
    if (this.state !== "proved" || this.expectedServerSignature === undefined)
      throw new Error("SASL: unexpected server-final-message");
    const attributes = parseAttributes(serverFinal);
    const error = attributes.get("e");
    if (error !== undefined) throw new Error(`SASL: the server refused the proof (${error.slice(0, 64)})`);
    const signature = attributes.get("v");
    if (signature === undefined || !isBase64(signature)) throw new Error("SASL: server signature missing");
    const given = Buffer.from(signature, "base64");
    const expected = this.expectedServerSignature;
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new Error("SASL: server signature does not match");
    this.state = "verified";
    if (this.store !== undefined && this.pending !== undefined) {
      const { salt, iterations, keys } = this.pending;
      this.store.cache.store(this.store.slot, this.password, salt, iterations, keys);
    }
    this.pending = undefined;
  }

  /** AuthenticationOk is believed only after the server proved itself. */
  get verified(): boolean {
    return this.state === "verified";
  }
}

async function deriveKeys(password: string, salt: string, iterations: number): Promise<ScramKeys> {
  const salted = await pbkdf2Async(saslPrep(password), Buffer.from(salt, "base64"), iterations, 32, "sha256");
  const clientKey = hmac(salted, "Client Key");
  return {
    clientKey,
    storedKey: createHash("sha256").update(clientKey).digest(),
    serverKey: hmac(salted, "Server Key"),
  };
}

function hmac(key: Buffer, text: string): Buffer {
  return createHmac("sha256", key).update(text, "utf8").digest();
}

function parseServerFirst(text: string): { nonce: string; salt: string; iterations: number } {
  const attributes = parseAttributes(text);
  const nonce = attributes.get("r");
  if (nonce === undefined || nonce === "" || !isPrintable(nonce))
    throw new Error("SASL: server-first-message has no valid nonce");
  const salt = attributes.get("s");
  if (salt === undefined || salt === "" || !isBase64(salt))
    throw new Error("SASL: server-first-message has no valid salt");
  const count = attributes.get("i");
  if (count === undefined || !/^[1-9][0-9]{0,9}$/.test(count))
    throw new Error("SASL: server-first-message has no valid iteration count");
  const iterations = Number(count);
  if (iterations > MAX_SCRAM_ITERATIONS)
    throw new Error(`SASL: iteration count ${iterations} exceeds ${MAX_SCRAM_ITERATIONS}`);
  return { nonce, salt, iterations };
}

function parseAttributes(text: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const part of text.split(",")) {
    if (!/^[a-zA-Z]=/.test(part)) throw new Error("SASL: malformed attribute in server message");
    if (!attributes.has(part[0]!)) attributes.set(part[0]!, part.slice(2));
  }
  return attributes;
}

/** RFC 5802 printable: %x21-2B / %x2D-7E (ASCII without controls, space and comma). */
function isPrintable(text: string): boolean {
  return /^[\x21-\x2b\x2d-\x7e]+$/.test(text);
}

function isBase64(text: string): boolean {
  return /^(?:[a-zA-Z0-9+/]{4})*(?:[a-zA-Z0-9+/]{2}==|[a-zA-Z0-9+/]{3}=)?$/.test(text);
}

/**
 * SASLprep (RFC 4013) as node-postgres and libpq apply it before PBKDF2, so a password whose NFKC form
 * differs from its raw form logs in as it does with psql: non-ASCII spaces mapped to U+0020, RFC 3454 table
 * B.1 removed, NFKC. The prohibition and bidi checks are skipped, as libpq and PostgreSQL itself do.
 */
export function saslPrep(password: string): string {
  return (
    password
      .replace(/[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g, " ")
      // biome-ignore lint/suspicious/noMisleadingCharacterClass: table B.1 lists combining marks, removed one by one
      .replace(/[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g, "")
      .normalize("NFKC")
  );
}
