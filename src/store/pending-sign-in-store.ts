/**
 * Console single sign-ons in progress (between the sign-in button and the identity provider's redirect back),
 * kept in the store so the callback may land on any replica or `--workers` process, not only the one that
 * started it. Keyed by a SHA-256 hash of the sign-in's random id (the OIDC cookie's value, or the SAML
 * AuthnRequest ID the IdP answers with InResponseTo), so reading the store does not give anyone a sign-in.
 */
export interface PendingSignIn {
  readonly kind: "oidc" | "saml";
  /** The console.oidc or console.saml entry's id. */
  readonly provider: string;
  /**
   * What the callback needs, as it must be used there (OIDC: state, nonce, PKCE verifier, redirect URI and return
   * path; SAML: the return path). The verifier and nonce are secrets: never logged, audited or answered by the API.
   */
  readonly data: Readonly<Record<string, string>>;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms; the callback is refused at or after it. */
  readonly expiresAt: number;
}

/** Every method rejects on a store failure (the sign-in is then refused: fail closed). */
export interface PendingSignInStore {
  /**
   * Saves a new pending sign-in after sweeping the expired ones; resolves false (nothing saved) when `max`
   * unexpired ones are already held, so a flood of sign-in clicks cannot grow the store without bound.
   */
  save(idHash: string, pending: PendingSignIn, max: number): Promise<boolean>;
  /**
   * Deletes the pending sign-in and returns what it held, atomically: of two callbacks racing for one id (a
   * replay, two replicas) exactly one gets it. "expired": it was there but expired at `now` (deleted too).
   */
  take(idHash: string, now: number): Promise<PendingSignIn | "expired" | undefined>;
  /** Deletes the pending sign-ins expired at `now`; resolves how many. */
  sweep(now: number): Promise<number>;
}
