import type { Identity } from "../identity/identity.js";

/**
 * Console sign-ins, kept in the store so that every replica behind a load balancer accepts them and a restart
 * keeps them. Keyed by a SHA-256 hash of the cookie's random id: someone who reads the store cannot sign in
 * as anyone with what they read.
 */
export interface ConsoleSignIn {
  /** Who the identity provider vouched for (never a token). */
  readonly identity: Identity;
  /** Epoch ms; the sign-in is nobody after it. */
  readonly expiresAt: number;
}

/** Every method returns a Promise and rejects on a store failure (the admin API then refuses the call). */
export interface ConsoleSessionStore {
  save(idHash: string, signIn: ConsoleSignIn): Promise<void>;
  /** Undefined when unknown or expired at `now`. */
  find(idHash: string, now: number): Promise<ConsoleSignIn | undefined>;
  remove(idHash: string): Promise<void>;
  /** Deletes the sign-ins expired at `now`; resolves how many. */
  sweep(now: number): Promise<number>;
}
