import { timingSafeEqual } from "node:crypto";
import ssh2, { type Client as SshClient } from "ssh2";

// ssh2 is CommonJS: named imports work under bundlers but not in Node's ESM loader.
const { Client } = ssh2;

import type { SshConnectionConfig } from "../../config/schema.js";
import { resolveSecret } from "../../config/secrets.js";
import { type CredentialProvider, staticCredential } from "../../credentials/credential-provider.js";
import { LatchError } from "../../errors.js";
import { fingerprintOf } from "./host-key.js";

/** Where and as whom Latch logs in on the target, from `upstream: ssh://user@host:port`. */
export interface SshTarget {
  readonly name: string;
  readonly user: string;
  readonly host: string;
  readonly port: number;
  readonly connectTimeoutMs: number;
}

/** What Latch logs in on the target with; the caller never sees it. */
export interface SshCredential {
  readonly privateKey: string;
}

/** The connection's key, resolved at each login so a rotated secret is picked up. */
export function sshCredentialProvider(
  name: string,
  connection: SshConnectionConfig,
): CredentialProvider<SshCredential> {
  return staticCredential(() => ({
    privateKey: resolveSecret(connection.private_key, `connection ${name}`),
  }));
}

/** The pinned host key: either the whole public key blob or its SHA-256 fingerprint. */
export type HostKeyPin =
  | { readonly kind: "blob"; readonly blob: Buffer }
  | { readonly kind: "fingerprint"; readonly value: string };

export function sshTargetOf(
  name: string,
  connection: SshConnectionConfig,
  connectTimeoutMs: number,
): SshTarget {
  const url = new URL(connection.upstream);
  return {
    name,
    user: decodeURIComponent(url.username),
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port === "" ? 22 : Number(url.port),
    connectTimeoutMs,
  };
}

/**
 * Reads `host_key`: a known_hosts line ("[host] ssh-ed25519 AAAA... [comment]") or "SHA256:...". Anything else
 * is a config error, never "accept any key".
 */
export function parseHostKeyPin(text: string, connectionName: string): HostKeyPin {
  const trimmed = text.trim();
  if (/^SHA256:[A-Za-z0-9+/]{43}$/.test(trimmed)) return { kind: "fingerprint", value: trimmed };
  const words = trimmed.split(/\s+/);
  const typeIndex = words.findIndex((word) => /^(ssh-|ecdsa-|sk-)/.test(word));
  const encoded = typeIndex === -1 ? undefined : words[typeIndex + 1];
  if (encoded !== undefined && /^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    return { kind: "blob", blob: Buffer.from(encoded, "base64") };
  }
  throw new LatchError("config_invalid", {
    detail: `connection ${connectionName}: host_key must be a known_hosts line ("ssh-ed25519 AAAA...") or a SHA256:... fingerprint`,
  });
}

export function hostKeyMatches(pin: HostKeyPin, presented: Buffer): boolean {
  if (pin.kind === "fingerprint") return fingerprintOf(presented) === pin.value;
  return pin.blob.length === presented.length && timingSafeEqual(pin.blob, presented);
}

/**
 * Logs in on the target with the injected key. Resolves once authenticated; rejects with a LatchError that
 * names the connection and the cause but never the key. A host key that does not match the pin aborts the
 * handshake before any credential is sent.
 */
export function connectSshUpstream(
  target: SshTarget,
  connection: SshConnectionConfig,
  credential: SshCredential,
): Promise<SshClient> {
  const pin = parseHostKeyPin(connection.host_key, target.name);
  const { privateKey } = credential;
  return new Promise((resolve, reject) => {
    const client = new Client();
    let hostKeyRefused = false;
    let settled = false;
    const fail = (error: LatchError) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(error);
    };
    client.once("ready", () => {
      if (settled) return;
      settled = true;
      resolve(client);
    });
    client.on("error", (error: Error & { level?: string }) => {
      if (hostKeyRefused) {
        fail(
          new LatchError("upstream_protocol", {
            name: target.name,
            reason:
              "its host key does not match host_key in latch.yaml (possible interception); refusing to connect",
          }),
        );
      } else if (error.level === "client-authentication") {
        fail(new LatchError("upstream_auth_failed", { name: target.name }));
      } else {
        fail(new LatchError("upstream_unavailable", { name: target.name, reason: safeReason(error) }));
      }
    });
    client.once("close", () =>
      fail(
        new LatchError("upstream_unavailable", {
          name: target.name,
          reason: "connection closed during the handshake",
        }),
      ),
    );
    try {
      client.connect({
        host: target.host,
        port: target.port,
        username: target.user,
        privateKey,
        readyTimeout: target.connectTimeoutMs,
        keepaliveInterval: 30_000,
        hostVerifier: (key: Buffer) => {
          hostKeyRefused = !hostKeyMatches(pin, key);
          return !hostKeyRefused;
        },
      });
    } catch (error) {
      // ssh2 throws synchronously on a key it cannot parse; its message never holds the key itself.
      fail(
        new LatchError("config_invalid", {
          detail: `connection ${target.name}: private_key is not a usable SSH private key (${safeReason(error as Error)})`,
        }),
      );
    }
  });
}

/** Socket-level reasons only (ECONNREFUSED, timeouts): short, and free of anything a key could leak into. */
function safeReason(error: Error & { code?: string }): string {
  if (typeof error.code === "string") return error.code;
  return error.message.split("\n")[0]?.slice(0, 200) ?? "error";
}
