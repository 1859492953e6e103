/**
 * What one gateway tells the others sharing its store, so that an action taken through any replica takes
 * effect on all of them: a held statement released wherever its approval is decided, a block, kill or
 * revocation ending sessions wherever they run. Events carry ids only; a receiver re-reads the store, which
 * holds the truth (an event lost or repeated changes nothing that the store does not say).
 */
export type ClusterEvent =
  | { readonly kind: "approval_changed"; readonly requestId: string }
  | { readonly kind: "grant_changed"; readonly grantId: string }
  | { readonly kind: "principal_blocked"; readonly principal: string; readonly by: string }
  | { readonly kind: "session_kill"; readonly sessionId: string; readonly by: string }
  | { readonly kind: "policy_reloaded" };

export interface ClusterEvents {
  /** False when this gateway is alone on its store: nothing it publishes reaches anyone. */
  readonly shared: boolean;
  /** Tells every other gateway; resolves once the event is in the store (rejects if it could not be). */
  publish(event: ClusterEvent): Promise<void>;
  /** Events from other gateways (never this one's own), in the order they were published. */
  subscribe(handler: (event: ClusterEvent, origin: string) => void): () => void;
  close(): Promise<void>;
}

/** One gateway on its own store (SQLite): nobody else to tell. */
export function createLocalClusterEvents(): ClusterEvents {
  return {
    shared: false,
    publish: async () => undefined,
    subscribe: () => () => undefined,
    close: async () => undefined,
  };
}
