/** Principals an administrator blocked: refused at login on every protocol, their live sessions ended. */

export interface PrincipalBlock {
  readonly principal: string;
  readonly blockedBy: string;
  readonly reason: string;
  /** ISO-8601 UTC. */
  readonly blockedAt: string;
}

/** Every method returns a Promise and rejects on a store failure (the gate then refuses the login). */
export interface PrincipalBlockStore {
  /** Hot path (every login): one primary-key lookup. */
  isBlocked(principal: string): Promise<boolean>;
  /** Resolves false when the principal was already blocked (the first block's record is kept). */
  block(principal: string, blockedBy: string, reason: string): Promise<boolean>;
  /** Resolves false when the principal was not blocked. */
  unblock(principal: string): Promise<boolean>;
  /** Newest block first. */
  list(): Promise<PrincipalBlock[]>;
}
