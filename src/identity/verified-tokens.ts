import { createHash } from "node:crypto";
import type { Identity } from "./identity.js";

/** Tokens in use at once by the agents of one gateway; beyond this the oldest entry goes. */
const CAPACITY = 2048;

/**
 * Identities of tokens whose signature and claims were verified a moment ago, so the same token presented
 * again (an agent that opens a connection per task, an admin client per request) skips the signature check,
 * which costs ~0.4 ms of CPU and a thread-pool round trip through WebCrypto. Keyed by the token's SHA-256:
 * only the very same bytes hit. An entry lives `ttlMs` at most (never past the token's exp), so a key the
 * issuer removed stops admitting an already-seen token at most `ttlMs` after it stops admitting new ones;
 * failures are never kept, and expiry is checked by the caller at every use. Nothing here is logged.
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, { identity: Identity; until: number }>();

  constructor(private readonly ttlMs: number) {}

  get(token: string, now: number): Identity | undefined {
    if (this.ttlMs <= 0) return undefined;
    const key = digest(token);
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (now >= entry.until) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.identity;
  }

  set(token: string, identity: Identity, now: number): void {
    if (this.ttlMs <= 0) return;
    const key = digest(token);
    this.entries.delete(key);
    if (this.entries.size >= CAPACITY) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { identity, until: Math.min(now + this.ttlMs, identity.expiresAt) });
  }
}

function digest(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("base64");
}
