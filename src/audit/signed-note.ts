import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";

/**
 * C2SP signed notes (https://github.com/C2SP/C2SP/blob/main/signed-note.md) with Ed25519 keys, the format
 * transparency-log witnesses already keep:
 *
 *   <text, one or more lines, each ending in \n>
 *   \n
 *   — <key name> <base64(4-byte key hash ‖ 64-byte signature)>\n
 *
 * key hash = first 4 bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key); the signature covers the
 * text bytes (final newline included). Verifier key: `<name>+<8 hex key hash>+<base64(0x01 ‖ public key)>`;
 * signer key: `PRIVATE+KEY+<name>+<8 hex key hash>+<base64(0x01 ‖ 32-byte seed)>` (as Go's x/mod/sumdb/note).
 */
const ED25519 = 0x01;
const EM_DASH = "\u2014";
/** PKCS#8 and SPKI prefixes of a raw Ed25519 seed / public key, so node:crypto can take raw bytes. */
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export interface NoteSigner {
  readonly name: string;
  readonly keyHash: number;
  /** The verifier key an external witness or `latch audit verify --key` takes. */
  readonly verifierKey: string;
  sign(text: string): string;
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyHash: number;
  readonly publicKey: KeyObject;
}

export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name);
}

export function keyHash(name: string, publicKey: Buffer): number {
  const digest = createHash("sha256")
    .update(Buffer.concat([Buffer.from(`${name}\n`, "utf8"), Buffer.from([ED25519]), publicKey]))
    .digest();
  return digest.readUInt32BE(0);
}

const hex8 = (value: number): string => value.toString(16).padStart(8, "0");

/** A new signer key (`PRIVATE+KEY+...`) for `name`. */
export function generateSignerKey(name: string, seed: Buffer): string {
  if (!isValidKeyName(name)) throw new Error(`key name "${name}" must be non-empty, without spaces or "+"`);
  const publicKey = rawPublicKey(seedToPrivateKey(seed));
  return `PRIVATE+KEY+${name}+${hex8(keyHash(name, publicKey))}+${Buffer.concat([Buffer.from([ED25519]), seed]).toString("base64")}`;
}

/** Parses a signer key; throws a message that never quotes the key. */
export function parseSignerKey(text: string): NoteSigner {
  const parts = splitKey(text, 5);
  if (parts.length !== 5 || parts[0] !== "PRIVATE" || parts[1] !== "KEY")
    throw new Error("not a signer key: expected PRIVATE+KEY+<name>+<hash>+<base64 key>");
  const [, , name, hash, data] = parts as [string, string, string, string, string];
  const raw = Buffer.from(data, "base64");
  if (!isValidKeyName(name) || raw.length !== 33 || raw[0] !== ED25519)
    throw new Error("not an Ed25519 signer key (type 0x01, 32-byte seed)");
  const privateKey = seedToPrivateKey(raw.subarray(1));
  const publicKey = rawPublicKey(privateKey);
  const computed = keyHash(name, publicKey);
  if (hash !== hex8(computed)) throw new Error("the signer key's hash does not match its name and key");
  const verifierKey = `${name}+${hex8(computed)}+${Buffer.concat([Buffer.from([ED25519]), publicKey]).toString("base64")}`;
  return {
    name,
    keyHash: computed,
    verifierKey,
    sign(noteText: string): string {
      assertNoteText(noteText);
      const signature = sign(null, Buffer.from(noteText, "utf8"), privateKey);
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(computed, 0);
      return `${noteText}\n${EM_DASH} ${name} ${Buffer.concat([prefix, signature]).toString("base64")}\n`;
    },
  };
}

/** Parses a verifier key `<name>+<hash>+<base64(0x01 ‖ key)>`. */
export function parseVerifierKey(text: string): NoteVerifier {
  const parts = splitKey(text, 3);
  if (parts.length !== 3)
    throw new Error("not a verifier key: expected <name>+<8 hex digits>+<base64 key> (latch audit key)");
  const [name, hash, data] = parts as [string, string, string];
  const raw = Buffer.from(data, "base64");
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(hash) || raw.length !== 33 || raw[0] !== ED25519)
    throw new Error("not an Ed25519 verifier key (<name>+<8 hex digits>+<base64 of 0x01 and 32 bytes>)");
  const publicRaw = raw.subarray(1);
  const computed = keyHash(name, publicRaw);
  if (hex8(computed) !== hash) throw new Error("the verifier key's hash does not match its name and key");
  return {
    name,
    keyHash: computed,
    publicKey: createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicRaw]), format: "der", type: "spki" }),
  };
}

export interface OpenedNote {
  readonly text: string;
  /** Whether a signature line of `verifier` (same name and key hash) verifies over the text. */
  readonly verified: boolean;
  /** Why not, when not. */
  readonly problem?: string;
}

/** Splits a signed note and checks its signature by `verifier`; signatures of other keys are ignored. */
export function openNote(note: string, verifier: NoteVerifier): OpenedNote {
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n"))
    return { text: "", verified: false, problem: "not a signed note (no blank line before signatures)" };
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split("\n");
  let sawKey = false;
  for (const line of lines) {
    const match = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/u.exec(line);
    if (match === null) return { text, verified: false, problem: "malformed signature line" };
    const raw = Buffer.from(match[2]!, "base64");
    if (match[1] !== verifier.name || raw.length < 4 || raw.readUInt32BE(0) !== verifier.keyHash) continue;
    sawKey = true;
    if (verify(null, Buffer.from(text, "utf8"), verifier.publicKey, raw.subarray(4)))
      return { text, verified: true };
  }
  return {
    text,
    verified: false,
    problem: sawKey
      ? `the signature by ${verifier.name} does not verify: the checkpoint was forged or altered`
      : `no signature by ${verifier.name} (another key signed it, or none)`,
  };
}

/** Splits at the first `count - 1` "+" signs: base64 key data may hold "+" itself. */
function splitKey(text: string, count: number): string[] {
  const parts: string[] = [];
  let rest = text.trim();
  while (parts.length < count - 1) {
    const at = rest.indexOf("+");
    if (at < 0) break;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  parts.push(rest);
  return parts;
}

function assertNoteText(text: string): void {
  const control = [...text].some(
    (char) => char !== "\n" && (char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f),
  );
  if (!text.endsWith("\n") || text.includes("\n\n") || control)
    throw new Error("note text must be lines ending in newline, with no blank line or control character");
}

function seedToPrivateKey(seed: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
}

function rawPublicKey(privateKey: KeyObject): Buffer {
  const der = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  return Buffer.from(der.subarray(der.length - 32));
}
