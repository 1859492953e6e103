import type { Identity } from "../identity/identity.js";

/** Who a credential is for: issued after session_start is on record, revoked when the session ends. */
export interface CredentialSubject {
  readonly sessionId: string;
  readonly identity: Identity;
  readonly connection: string;
}

/**
 * Where the upstream credential of a connection comes from: a static secret the gateway holds, a per-session
 * user it creates and drops, an injected header, OAuth client credentials. The caller never sees it.
 */
export interface CredentialProvider<Credential> {
  /** Rejects with a LatchError when the credential cannot be had (the login is refused). */
  issue(subject: CredentialSubject): Promise<Credential>;
  /** Called once when the session ends; must not throw (failures are the provider's to log and retry). */
  revoke?(credential: Credential, subject: CredentialSubject, reason: string): void;
}

/** A secret the gateway holds, resolved at each login so a rotated file or variable is picked up. */
export function staticCredential<Credential>(resolve: () => Credential): CredentialProvider<Credential> {
  return { issue: async () => resolve() };
}
