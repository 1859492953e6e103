import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { inspect } from "node:util";

/** What SCRAM-SHA-256 derives from a password and the server's salt and iteration count (RFC 5802). */
export interface ScramKeys {
  readonly clientKey: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

interface Entry {
  /** HMAC of the password under a key that lives only in this process: the password itself is not kept. */
  readonly fingerprint: Buffer;
  readonly salt: string;
  readonly iterations: number;
  readonly keys: ScramKeys;
}

/** One slot per connection and upstream user; a gateway has a handful, the cap only bounds a mistake. */
const MAX_SLOTS = 1024;

/**
 * The SCRAM keys of the gateway's own upstream logins, what PgBouncer keeps too: PBKDF2 with the server's
 * iteration count (4096 by default) costs a millisecond or more of CPU, and its result only changes with the
 * password, the salt or the count. An entry is used only when all three match the login at hand (the password
 * compared through its fingerprint), so a rotated secret or an `ALTER ROLE ... PASSWORD` on the server (new
 * salt) misses and its entry is replaced. The keys let anyone who holds them log in as the upstream user, like
 * the password: they are never logged (inspect prints nothing of them) nor handed out, and a failed login
 * forgets its slot. Per-session roles do not use the cache: their one-off passwords are never seen twice.
 */
export class ScramKeyCache {
  readonly #entries = new Map<string, Entry>();
  readonly #fingerprintKey = randomBytes(32);

  /** The keys derived earlier for exactly this password, salt and iteration count, if any. */
  lookup(slot: string, password: string, salt: string, iterations: number): ScramKeys | undefined {
    const entry = this.#entries.get(slot);
    if (entry === undefined || entry.salt !== salt || entry.iterations !== iterations) return undefined;
    return timingSafeEqual(entry.fingerprint, this.#fingerprint(password)) ? entry.keys : undefined;
  }

  /** Keeps the keys of a login the server accepted (the caller checked its signature). */
  store(slot: string, password: string, salt: string, iterations: number, keys: ScramKeys): void {
    this.#entries.delete(slot);
    if (this.#entries.size >= MAX_SLOTS) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(slot, { fingerprint: this.#fingerprint(password), salt, iterations, keys });
  }

  /** Whether keys are kept for this login identity (names only: which connection, server and user). */
  has(slot: string): boolean {
    return this.#entries.has(slot);
  }

  forget(slot: string): void {
    this.#entries.delete(slot);
  }

  get size(): number {
    return this.#entries.size;
  }

  #fingerprint(password: string): Buffer {
    return createHmac("sha256", this.#fingerprintKey).update(password, "utf8").digest();
  }

  /** console.log / pino / util.inspect see a count, never a key. */
  [inspect.custom](): string {
    return `ScramKeyCache { ${this.#entries.size} entries }`;
  }

  toJSON(): { entries: number } {
    return { entries: this.#entries.size };
  }
}

/** The gateway's one cache for its static upstream credentials. */
export const upstreamScramKeys = new ScramKeyCache();

/** The slot of one upstream login identity: which server, and who logs in there. */
export function scramSlot(connection: string, host: string, port: number, user: string): string {
  return `${connection}\u0000${host}\u0000${port}\u0000${user}`;
}
