import type { Identity } from "../identity/identity.js";
import type { OperationStep } from "../operation/operation.js";

/**
 * A live session as a protocol's session uses it: who and where, the signal that aborts held work when the
 * session ends, and what the session layer needs to hear (traffic, grants used, steps forwarded). LiveSession
 * satisfies it; unit tests pass plain objects.
 */
export interface SessionHandle {
  readonly id: string;
  readonly identity: Identity;
  readonly connection: string;
  readonly connectionLabels: Readonly<Record<string, string>>;
  readonly clientAddress: string;
  /** Aborted when the session ends: an operation held for approval is then abandoned, never run later. */
  readonly signal: AbortSignal;
  /** Traffic in either direction (idle_timeout). */
  touch(): void;
  /** An operation ran on a grant expiring then: the session ends with it. */
  usedGrant(expiresAt: number): void;
  /** Steps that were allowed and forwarded (a policy reload re-asks about them). */
  remember(steps: readonly OperationStep[]): void;
}
