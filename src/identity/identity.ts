import type { Actor } from "./act-claim.js";

/** Who is calling, as established from a verified token. Never holds the token itself. */
export interface Identity {
  /** Principal id used in policy (`User::"<subject>"`): the token's `sub`, prefixed if the issuer says so. */
  readonly subject: string;
  readonly issuer: string;
  readonly groups: readonly string[];
  /** Token expiry, epoch milliseconds. */
  readonly expiresAt: number;
  /** Token id (`jti`) when present, for audit correlation. */
  readonly tokenId?: string;
  /**
   * The delegation chain of an RFC 8693 `act` claim, the current actor first (an orchestrator acting for the
   * subject, a subagent for the orchestrator). Present only when the issuer allows delegation.
   */
  readonly actors?: readonly Actor[];
}

export interface TokenVerifier {
  /** Resolves with the identity or rejects with a LatchError of class "identity". */
  verify(token: string): Promise<Identity>;
}
