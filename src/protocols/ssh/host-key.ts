import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import ssh2 from "ssh2";

const { utils } = ssh2;

import { LatchError } from "../../errors.js";

/** The gateway's own SSH identity: stable across restarts so clients can pin it in known_hosts. */
export interface SshHostKey {
  /** OpenSSH private key text, handed to the ssh2 Server only. */
  readonly privateKey: string;
  /** "ssh-ed25519 AAAA...": the line a client puts in known_hosts (after the host name). */
  readonly publicLine: string;
  /** "SHA256:..." as `ssh-keygen -lf` prints it. */
  readonly fingerprint: string;
}

export const HOST_KEY_FILE = "ssh_host_ed25519_key";

/**
 * Reads data_dir/ssh_host_ed25519_key, creating it on first start. The file is created exclusively with mode
 * 0600 so two gateways starting at once cannot both write one, and nothing else on the box can read it.
 */
export function loadOrCreateHostKey(dataDir: string): SshHostKey {
  const file = path.join(dataDir, HOST_KEY_FILE);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw unreadable(file, error);
    mkdirSync(dataDir, { recursive: true });
    const generated = generateHostKey();
    try {
      writeFileSync(file, generated, { mode: 0o600, flag: "wx" });
      text = generated;
    } catch (writeError) {
      // Another process won the race: use its key.
      if ((writeError as NodeJS.ErrnoException).code !== "EEXIST") throw unreadable(file, writeError);
      text = readFileSync(file, "utf8");
    }
  }
  const parsed = utils.parseKey(text);
  if (parsed instanceof Error || Array.isArray(parsed)) {
    throw new LatchError("config_invalid", {
      detail: `SSH host key ${file} is not a valid private key; move it away to have a new one generated`,
    });
  }
  const blob = parsed.getPublicSSH();
  return {
    privateKey: text,
    publicLine: `${parsed.type} ${blob.toString("base64")}`,
    fingerprint: fingerprintOf(blob),
  };
}

/**
 * A new ed25519 host key in OpenSSH format that ssh2 reads back. ssh2's generator strips every leading zero
 * byte of the public key, so about one key in 256 comes out malformed and `parseKey` refuses it
 * (mscdex/ssh2#1390, #1513): such a key is thrown away before anything is written, and another made.
 */
export function generateHostKey(): string {
  for (let attempt = 0; attempt < 32; attempt++) {
    const pair = utils.generateKeyPairSync("ed25519", { comment: "latch gateway host key" });
    const privateKey = utils.parseKey(pair.private);
    const publicKey = utils.parseKey(pair.public);
    if (!(privateKey instanceof Error) && !Array.isArray(privateKey) && !(publicKey instanceof Error))
      return pair.private;
  }
  throw new Error("could not generate an SSH host key that ssh2 can read");
}

/** OpenSSH's fingerprint form: SHA-256 of the public key blob, unpadded base64. */
export function fingerprintOf(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(publicKeyBlob).digest("base64").replace(/=+$/, "")}`;
}

function unreadable(file: string, cause: unknown): LatchError {
  return new LatchError(
    "config_invalid",
    {
      detail: `cannot read or create the SSH host key ${file}: ${(cause as NodeJS.ErrnoException).code ?? "error"}`,
    },
    { cause },
  );
}
