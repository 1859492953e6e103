import type { Logger } from "pino";
import type { ApprovalService } from "../approvals/approval-service.js";
import type { ClusterEvent, ClusterEvents } from "../cluster/cluster-events.js";
import { LatchError } from "../errors.js";
import type { SessionRegistry } from "../session/session-registry.js";

export interface ClusterBridgeDeps {
  readonly events: ClusterEvents;
  readonly approvals: ApprovalService;
  readonly registry: SessionRegistry;
  /** Re-reads this gateway's policies after another gateway reloaded its own (same policy directory). */
  readonly reloadPolicies: () => Promise<unknown>;
  readonly log: Logger;
}

/**
 * Joins this gateway to the others on its store: approval and grant changes made here are announced; changes
 * announced by others are applied here (held statements released or refused, sessions of a blocked principal,
 * a revoked grant or a kill ended, policies re-read). Returns the function that detaches it.
 */
export function bridgeClusterEvents(deps: ClusterBridgeDeps): () => void {
  const { events, log } = deps;
  const announce = (event: ClusterEvent) =>
    events.publish(event).catch((error: unknown) => {
      // The change is in the store; other gateways see it on their next read, only not at once.
      log.warn({ err: error, kind: event.kind }, "could not announce a change to the other gateways");
    });
  const stopAnnouncing = deps.approvals.subscribe((update) => {
    if (update.remote === true) return;
    void announce(
      update.type === "request"
        ? { kind: "approval_changed", requestId: update.request.id }
        : { kind: "grant_changed", grantId: update.grant.id },
    );
  });
  const stopApplying = events.subscribe((event, origin) => {
    void apply(event).catch((error: unknown) =>
      log.error({ err: error, kind: event.kind, origin }, "could not apply a change made on another gateway"),
    );
  });

  const apply = async (event: ClusterEvent): Promise<void> => {
    switch (event.kind) {
      case "approval_changed":
        return deps.approvals.applyRemoteChange({ type: "request", id: event.requestId });
      case "grant_changed":
        // A revoked grant ends its sessions here through the revocation subscriber, like a local one.
        return deps.approvals.applyRemoteChange({ type: "grant", id: event.grantId });
      case "principal_blocked":
        deps.registry.terminateWhere(
          (session) => session.subject === event.principal,
          new LatchError("principal_blocked"),
          `principal blocked by an administrator (${event.by}, on another gateway)`,
        );
        return;
      case "session_kill": {
        const session = deps.registry.get(event.sessionId);
        session?.terminate(
          new LatchError("session_terminated", { reason: "session terminated by an administrator" }),
          `session terminated by an administrator (${event.by}, on another gateway)`,
        );
        return;
      }
      case "policy_reloaded":
        await deps.reloadPolicies();
        return;
    }
  };

  return () => {
    stopAnnouncing();
    stopApplying();
  };
}
