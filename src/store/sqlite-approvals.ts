import { statSync } from "node:fs";
import type Database from "better-sqlite3";
import type {
  ApprovalStore,
  GrantFilter,
  NewApprovalRequest,
  RequestFilter,
  VoteEffect,
  VoteResult,
} from "../approvals/approval-store.js";
import type { ApprovalRequest, ApprovalState, ApprovalVote, Grant } from "../approvals/approval-types.js";
import type { Actor } from "../identity/act-claim.js";
import type { StatementPreview } from "../operation/statement-preview.js";
import { guardSideStore, openSqliteSideConnection } from "./sqlite-side-connection.js";

export interface SqliteApprovalStoreOptions {
  /** How long a write waits for the audit writer's lock on the same file. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
}

export interface SqliteApprovalStore extends ApprovalStore {
  close(): void;
}

/**
 * Approval state in the same SQLite file as the audit log, through a connection of its own (the audit index
 * keeps its chain head in memory and is the file's only audit writer; these tables are separate). Every call
 * is one short statement or transaction (better-sqlite3 is synchronous); its answer or failure comes back as a
 * Promise, as the interface says. Races between calls are settled inside SQLite: each conditional write is one
 * statement or one IMMEDIATE transaction.
 */
export function createSqliteApprovalStore(
  file: string,
  options: SqliteApprovalStoreOptions = {},
): SqliteApprovalStore {
  const db = openSqliteSideConnection(file, "approval store", options);
  return guardSideStore(file, buildApprovalStore(db, file));
}

interface RequestRow {
  id: string;
  mode: ApprovalRequest["mode"];
  state: ApprovalState;
  binding: string;
  session_id: string | null;
  operation_id: string | null;
  connection: string;
  requester: string;
  requester_issuer: string;
  requester_groups: string;
  requester_actors: string | null;
  statements: string;
  parameters: string | null;
  accesses: string;
  approval_group: string;
  quorum: number;
  rules: string;
  reason: string;
  requested_for_ms: number | null;
  created_at: number;
  expires_at: number;
  decided_at: number | null;
  decision_reason: string | null;
  consumed_at: number | null;
  grant_id: string | null;
  preview: string | null;
}

interface VoteRow {
  approver: string;
  approver_issuer: string;
  vote: "approve" | "deny";
  reason: string;
  grant_for_ms: number | null;
  at: number;
}

interface GrantRow {
  id: string;
  request_id: string;
  principal: string;
  connection: string;
  accesses: string;
  approval_group: string;
  quorum: number;
  uses_left: number | null;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  revoked_by: string | null;
  revoke_reason: string | null;
}

const LIVE_GRANT = "revoked_at IS NULL AND expires_at > @now AND (uses_left IS NULL OR uses_left > 0)";

function buildApprovalStore(db: Database.Database, file: string): SqliteApprovalStore {
  const fileIdentity = statSync(file);
  const insertRequest = db.prepare(`INSERT INTO approval_requests
    (id, mode, state, binding, session_id, operation_id, connection, requester, requester_issuer, requester_groups,
     requester_actors, statements, parameters, accesses, approval_group, quorum, rules, reason, requested_for_ms, created_at,
     expires_at, decided_at, decision_reason, consumed_at, grant_id, preview)
    VALUES (@id, @mode, @state, @binding, @session_id, @operation_id, @connection, @requester, @requester_issuer,
     @requester_groups, @requester_actors, @statements, @parameters, @accesses, @approval_group, @quorum, @rules, @reason,
     @requested_for_ms, @created_at, @expires_at, @decided_at, @decision_reason, @consumed_at, @grant_id, @preview)`);
  const selectRequest = db.prepare("SELECT * FROM approval_requests WHERE id = ?");
  const selectVotes = db.prepare(
    "SELECT approver, approver_issuer, vote, reason, grant_for_ms, at FROM approval_votes WHERE request_id = ? ORDER BY at, approver",
  );
  const selectPendingByBinding = db.prepare(
    "SELECT * FROM approval_requests WHERE binding = ? AND state = 'pending' ORDER BY created_at DESC LIMIT 1",
  );
  const selectReleasable = db.prepare(`SELECT * FROM approval_requests
    WHERE binding = @binding AND state = 'approved' AND mode = 'defer' AND consumed_at IS NULL
      AND decided_at + (expires_at - created_at) > @now ORDER BY decided_at`);
  const consume = db.prepare(
    "UPDATE approval_requests SET consumed_at = ? WHERE id = ? AND state = 'approved' AND consumed_at IS NULL",
  );
  const selectVote = db.prepare("SELECT 1 FROM approval_votes WHERE request_id = ? AND approver = ?");
  const countVotes = db.prepare("SELECT count(*) AS n FROM approval_votes WHERE request_id = ?");
  const insertVote = db.prepare(`INSERT INTO approval_votes
    (request_id, approver, approver_issuer, vote, reason, grant_for_ms, at) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const decide = db.prepare(`UPDATE approval_requests SET state = @state, decided_at = @decided_at,
    decision_reason = @decision_reason, grant_id = @grant_id WHERE id = @id AND state = 'pending'`);
  const finish =
    db.prepare(`UPDATE approval_requests SET state = @state, decided_at = @at, decision_reason = @reason
    WHERE id = @id AND state = 'pending'`);
  const insertGrant = db.prepare(`INSERT INTO approval_grants
    (id, request_id, principal, connection, accesses, approval_group, quorum, uses_left, created_at, expires_at,
     revoked_at, revoked_by, revoke_reason)
    VALUES (@id, @request_id, @principal, @connection, @accesses, @approval_group, @quorum, @uses_left, @created_at,
     @expires_at, @revoked_at, @revoked_by, @revoke_reason)`);
  const selectGrant = db.prepare("SELECT * FROM approval_grants WHERE id = ?");
  const selectLiveGrants = db.prepare(
    `SELECT * FROM approval_grants WHERE principal = @principal AND connection = @connection AND ${LIVE_GRANT} ORDER BY expires_at`,
  );
  const useGrant = db.prepare(
    `UPDATE approval_grants SET uses_left = CASE WHEN uses_left IS NULL THEN NULL ELSE uses_left - 1 END
     WHERE id = @id AND ${LIVE_GRANT}`,
  );
  const revoke = db.prepare(
    "UPDATE approval_grants SET revoked_at = ?, revoked_by = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL",
  );

  /** SQLite keeps writing into a deleted file nobody will read again: refuse instead (as the audit store does). */
  const assertFileInPlace = (): void => {
    const now = statSync(file, { throwIfNoEntry: false });
    if (now === undefined || now.ino !== fileIdentity.ino || now.dev !== fileIdentity.dev) {
      throw new Error(`the store file ${file} was removed or replaced while open`);
    }
  };

  const toRequest = (row: RequestRow): ApprovalRequest => ({
    id: row.id,
    mode: row.mode,
    state: row.state,
    binding: row.binding,
    sessionId: row.session_id,
    operationId: row.operation_id,
    connection: row.connection,
    requester: row.requester,
    requesterIssuer: row.requester_issuer,
    requesterGroups: JSON.parse(row.requester_groups) as string[],
    ...(row.requester_actors === null ? {} : { actors: JSON.parse(row.requester_actors) as Actor[] }),
    statements: JSON.parse(row.statements) as string[],
    parameters: row.parameters === null ? null : (JSON.parse(row.parameters) as (string | null)[][]),
    accesses: JSON.parse(row.accesses) as string[],
    group: row.approval_group,
    quorum: row.quorum,
    rules: JSON.parse(row.rules) as string[],
    reason: row.reason,
    requestedForMs: row.requested_for_ms,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    decidedAt: row.decided_at,
    decisionReason: row.decision_reason,
    consumedAt: row.consumed_at,
    grantId: row.grant_id,
    ...(row.preview === null ? {} : { preview: JSON.parse(row.preview) as StatementPreview }),
    votes: (selectVotes.all(row.id) as VoteRow[]).map(
      (vote): ApprovalVote => ({
        approver: vote.approver,
        approverIssuer: vote.approver_issuer,
        vote: vote.vote,
        reason: vote.reason,
        ...(vote.grant_for_ms === null ? {} : { grantForMs: vote.grant_for_ms }),
        at: vote.at,
      }),
    ),
  });

  const grantRow = (grant: Grant): GrantRow => ({
    id: grant.id,
    request_id: grant.requestId,
    principal: grant.principal,
    connection: grant.connection,
    accesses: JSON.stringify(grant.accesses),
    approval_group: grant.group,
    quorum: grant.quorum,
    uses_left: grant.usesLeft,
    created_at: grant.createdAt,
    expires_at: grant.expiresAt,
    revoked_at: grant.revokedAt,
    revoked_by: grant.revokedBy,
    revoke_reason: grant.revokeReason,
  });

  const toGrant = (row: GrantRow): Grant => ({
    id: row.id,
    requestId: row.request_id,
    principal: row.principal,
    connection: row.connection,
    accesses: JSON.parse(row.accesses) as string[],
    group: row.approval_group,
    quorum: row.quorum,
    usesLeft: row.uses_left,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by,
    revokeReason: row.revoke_reason,
  });

  const voteTransaction = db.transaction((id: string, vote: ApprovalVote, effect: VoteEffect): VoteResult => {
    const row = selectRequest.get(id) as RequestRow | undefined;
    if (row === undefined || row.state !== "pending") return "not_pending";
    if (selectVote.get(id, vote.approver) !== undefined) return "already_voted";
    if ((countVotes.get(id) as { n: number }).n !== effect.votesBefore) return "changed";
    insertVote.run(
      id,
      vote.approver,
      vote.approverIssuer,
      vote.vote,
      vote.reason,
      vote.grantForMs ?? null,
      vote.at,
    );
    if (effect.grant !== undefined) insertGrant.run(grantRow(effect.grant));
    if (effect.state !== "pending") {
      decide.run({
        id,
        state: effect.state,
        decided_at: effect.decidedAt ?? vote.at,
        decision_reason: effect.decisionReason ?? null,
        grant_id: effect.grant?.id ?? null,
      });
    }
    return "recorded";
  });

  /** Wraps every write: checks the file is still the one we opened. */
  const write = <T>(run: () => T): T => {
    assertFileInPlace();
    return run();
  };

  return {
    async insertRequest(request: NewApprovalRequest) {
      write(() =>
        insertRequest.run({
          id: request.id,
          mode: request.mode,
          state: request.state,
          binding: request.binding,
          session_id: request.sessionId,
          operation_id: request.operationId,
          connection: request.connection,
          requester: request.requester,
          requester_issuer: request.requesterIssuer,
          requester_groups: JSON.stringify(request.requesterGroups),
          requester_actors: request.actors === undefined ? null : JSON.stringify(request.actors),
          statements: JSON.stringify(request.statements),
          parameters: request.parameters === null ? null : JSON.stringify(request.parameters),
          accesses: JSON.stringify(request.accesses),
          approval_group: request.group,
          quorum: request.quorum,
          rules: JSON.stringify(request.rules),
          reason: request.reason,
          requested_for_ms: request.requestedForMs,
          created_at: request.createdAt,
          expires_at: request.expiresAt,
          decided_at: request.decidedAt,
          decision_reason: request.decisionReason,
          consumed_at: request.consumedAt,
          grant_id: request.grantId,
          preview: request.preview == null ? null : JSON.stringify(request.preview),
        }),
      );
    },
    async getRequest(id) {
      const row = selectRequest.get(id) as RequestRow | undefined;
      return row === undefined ? undefined : toRequest(row);
    },
    async listRequests(filter: RequestFilter = {}) {
      const limit = filter.limit ?? 100;
      const rows = (
        filter.state === undefined
          ? db.prepare("SELECT * FROM approval_requests ORDER BY created_at DESC, id LIMIT ?").all(limit)
          : db
              .prepare("SELECT * FROM approval_requests WHERE state = ? ORDER BY created_at DESC, id LIMIT ?")
              .all(filter.state, limit)
      ) as RequestRow[];
      return rows.map(toRequest);
    },
    async findPendingByBinding(binding) {
      const row = selectPendingByBinding.get(binding) as RequestRow | undefined;
      return row === undefined ? undefined : toRequest(row);
    },
    async findReleasable(binding, now) {
      return (selectReleasable.all({ binding, now }) as RequestRow[]).map(toRequest);
    },
    async consumeRequest(id, now) {
      return write(() => consume.run(now, id).changes === 1);
    },
    async recordVote(id, vote, effect) {
      return write(() => voteTransaction.immediate(id, vote, effect));
    },
    async finishRequest(id, state, at, reason) {
      return write(() => finish.run({ id, state, at, reason }).changes === 1);
    },
    async insertGrant(grant) {
      write(() => insertGrant.run(grantRow(grant)));
    },
    async getGrant(id) {
      const row = selectGrant.get(id) as GrantRow | undefined;
      return row === undefined ? undefined : toGrant(row);
    },
    async listGrants(filter: GrantFilter = {}) {
      const clauses: string[] = [];
      const params: Record<string, unknown> = { limit: filter.limit ?? 100 };
      if (filter.liveAt !== undefined) {
        clauses.push(LIVE_GRANT);
        params.now = filter.liveAt;
      }
      if (filter.principal !== undefined) {
        clauses.push("principal = @principal");
        params.principal = filter.principal;
      }
      const where = clauses.length === 0 ? "" : `WHERE ${clauses.join(" AND ")}`;
      const rows = db
        .prepare(`SELECT * FROM approval_grants ${where} ORDER BY created_at DESC, id LIMIT @limit`)
        .all(params) as GrantRow[];
      return rows.map(toGrant);
    },
    async liveGrants(principal, connection, now) {
      return (selectLiveGrants.all({ principal, connection, now }) as GrantRow[]).map(toGrant);
    },
    async useGrant(id, now) {
      return write(() => useGrant.run({ id, now }).changes === 1);
    },
    async revokeGrant(id, by, reason, at) {
      return write(() => revoke.run(at, by, reason, id).changes === 1);
    },
    close() {
      if (db.open) db.close();
    },
  };
}
