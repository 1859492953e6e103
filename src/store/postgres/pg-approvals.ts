import type pg from "pg";
import type {
  ApprovalStore,
  GrantFilter,
  NewApprovalRequest,
  RequestFilter,
  VoteEffect,
  VoteResult,
} from "../../approvals/approval-store.js";
import type { ApprovalRequest, ApprovalState, ApprovalVote, Grant } from "../../approvals/approval-types.js";
import type { Actor } from "../../identity/act-claim.js";
import type { StatementPreview } from "../../operation/statement-preview.js";

/** bigint columns come back from pg as strings. */
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
  requester_groups: string[];
  requester_actors: Actor[] | null;
  statements: string[];
  parameters: (string | null)[][] | null;
  accesses: string[];
  approval_group: string;
  quorum: number;
  rules: string[];
  reason: string;
  requested_for_ms: string | null;
  created_at: string;
  expires_at: string;
  decided_at: string | null;
  decision_reason: string | null;
  consumed_at: string | null;
  grant_id: string | null;
  preview: StatementPreview | null;
  /** Built by VOTES_OF_REQUEST: numbers inside JSON are plain numbers. */
  votes: VoteJson[];
}

interface VoteJson {
  approver: string;
  approverIssuer: string;
  vote: "approve" | "deny";
  reason: string;
  grantForMs: number | null;
  at: number;
}

interface GrantRow {
  id: string;
  request_id: string;
  principal: string;
  connection: string;
  accesses: string[];
  approval_group: string;
  quorum: number;
  uses_left: number | null;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  revoked_by: string | null;
  revoke_reason: string | null;
}

/** A request's votes as one JSON array, oldest first (then approver), read in the same statement. */
const VOTES_OF_REQUEST = `coalesce((SELECT json_agg(json_build_object('approver', v.approver,
  'approverIssuer', v.approver_issuer, 'vote', v.vote, 'reason', v.reason, 'grantForMs', v.grant_for_ms,
  'at', v.at) ORDER BY v.at, v.approver) FROM latch_approval_votes v WHERE v.request_id = r.id), '[]'::json)`;
const SELECT_REQUESTS = `SELECT r.*, ${VOTES_OF_REQUEST} AS votes FROM latch_approval_requests r`;

/** A grant neither revoked, expired nor used up at `$now` (the placeholder is filled in per query). */
const liveGrant = (now: string) =>
  `revoked_at IS NULL AND expires_at > ${now} AND (uses_left IS NULL OR uses_left > 0)`;

const GRANT_COLUMNS =
  "id, request_id, principal, connection, accesses, approval_group, quorum, uses_left, created_at, expires_at, revoked_at, revoked_by, revoke_reason";
const INSERT_GRANT = `INSERT INTO latch_approval_grants (${GRANT_COLUMNS})
  VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11, $12, $13)`;

/**
 * Approval state on the PostgreSQL store every replica shares. Each write that can race is one conditional
 * statement (`UPDATE ... WHERE <still allowed>`: a concurrent writer waits for the row lock, then PostgreSQL
 * re-checks the condition on the row as committed), except a vote, which is one transaction on one connection
 * holding the request's row lock: the checks, the vote and its effect commit together or not at all.
 */
export function createPgApprovalStore(pool: pg.Pool): ApprovalStore {
  return {
    async insertRequest(request: NewApprovalRequest) {
      await pool.query(
        `INSERT INTO latch_approval_requests
          (id, mode, state, binding, session_id, operation_id, connection, requester, requester_issuer,
           requester_groups, statements, parameters, accesses, approval_group, quorum, rules, reason,
           requested_for_ms, created_at, expires_at, decided_at, decision_reason, consumed_at, grant_id, preview,
           requester_actors)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb, $12::jsonb, $13::jsonb, $14, $15,
           $16::jsonb, $17, $18, $19, $20, $21, $22, $23, $24, $25::jsonb, $26::jsonb)`,
        [
          request.id,
          request.mode,
          request.state,
          request.binding,
          request.sessionId,
          request.operationId,
          request.connection,
          request.requester,
          request.requesterIssuer,
          JSON.stringify(request.requesterGroups),
          JSON.stringify(request.statements),
          request.parameters === null ? null : JSON.stringify(request.parameters),
          JSON.stringify(request.accesses),
          request.group,
          request.quorum,
          JSON.stringify(request.rules),
          request.reason,
          request.requestedForMs,
          request.createdAt,
          request.expiresAt,
          request.decidedAt,
          request.decisionReason,
          request.consumedAt,
          request.grantId,
          request.preview == null ? null : JSON.stringify(request.preview),
          request.actors === undefined ? null : JSON.stringify(request.actors),
        ],
      );
    },

    async getRequest(id) {
      const { rows } = await pool.query<RequestRow>(`${SELECT_REQUESTS} WHERE r.id = $1`, [id]);
      return rows[0] === undefined ? undefined : toRequest(rows[0]);
    },

    async listRequests(filter: RequestFilter = {}) {
      const params: unknown[] = [];
      const where = filter.state === undefined ? "" : ` WHERE r.state = $${params.push(filter.state)}`;
      const limit = `$${params.push(filter.limit ?? 100)}`;
      const { rows } = await pool.query<RequestRow>(
        `${SELECT_REQUESTS}${where} ORDER BY r.created_at DESC, r.id LIMIT ${limit}`,
        params,
      );
      return rows.map(toRequest);
    },

    async findPendingByBinding(binding) {
      const { rows } = await pool.query<RequestRow>(
        `${SELECT_REQUESTS} WHERE r.binding = $1 AND r.state = 'pending' ORDER BY r.created_at DESC, r.id LIMIT 1`,
        [binding],
      );
      return rows[0] === undefined ? undefined : toRequest(rows[0]);
    },

    async findReleasable(binding, now) {
      // The release window is as long as the request's own lifetime, counted from the decision.
      const { rows } = await pool.query<RequestRow>(
        `${SELECT_REQUESTS} WHERE r.binding = $1 AND r.state = 'approved' AND r.mode = 'defer'
           AND r.consumed_at IS NULL AND r.decided_at + (r.expires_at - r.created_at) > $2
         ORDER BY r.decided_at, r.id`,
        [binding, now],
      );
      return rows.map(toRequest);
    },

    async consumeRequest(id, now) {
      const result = await pool.query(
        "UPDATE latch_approval_requests SET consumed_at = $2 WHERE id = $1 AND state = 'approved' AND consumed_at IS NULL",
        [id, now],
      );
      return result.rowCount === 1;
    },

    recordVote(id, vote, effect) {
      return inTransaction(pool, (client) => recordVoteIn(client, id, vote, effect));
    },

    async finishRequest(id, state, at, reason) {
      const result = await pool.query(
        `UPDATE latch_approval_requests SET state = $2, decided_at = $3, decision_reason = $4
         WHERE id = $1 AND state = 'pending'`,
        [id, state, at, reason],
      );
      return result.rowCount === 1;
    },

    async insertGrant(grant) {
      await pool.query(INSERT_GRANT, grantParams(grant));
    },

    async getGrant(id) {
      const { rows } = await pool.query<GrantRow>(
        `SELECT ${GRANT_COLUMNS} FROM latch_approval_grants WHERE id = $1`,
        [id],
      );
      return rows[0] === undefined ? undefined : toGrant(rows[0]);
    },

    async listGrants(filter: GrantFilter = {}) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (filter.liveAt !== undefined) where.push(liveGrant(`$${params.push(filter.liveAt)}`));
      if (filter.principal !== undefined) where.push(`principal = $${params.push(filter.principal)}`);
      const limit = `$${params.push(filter.limit ?? 100)}`;
      const { rows } = await pool.query<GrantRow>(
        `SELECT ${GRANT_COLUMNS} FROM latch_approval_grants${where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`}
         ORDER BY created_at DESC, id LIMIT ${limit}`,
        params,
      );
      return rows.map(toGrant);
    },

    async liveGrants(principal, connection, now) {
      const { rows } = await pool.query<GrantRow>(
        `SELECT ${GRANT_COLUMNS} FROM latch_approval_grants
         WHERE principal = $1 AND connection = $2 AND ${liveGrant("$3")} ORDER BY expires_at, id`,
        [principal, connection, now],
      );
      return rows.map(toGrant);
    },

    async useGrant(id, now) {
      // NULL - 1 is NULL: an unlimited grant stays unlimited, and is still only usable while live.
      const result = await pool.query(
        `UPDATE latch_approval_grants SET uses_left = uses_left - 1 WHERE id = $1 AND ${liveGrant("$2")}`,
        [id, now],
      );
      return result.rowCount === 1;
    },

    async revokeGrant(id, by, reason, at) {
      const result = await pool.query(
        `UPDATE latch_approval_grants SET revoked_at = $2, revoked_by = $3, revoke_reason = $4
         WHERE id = $1 AND revoked_at IS NULL`,
        [id, at, by, reason],
      );
      return result.rowCount === 1;
    },
  };
}

/**
 * The vote transaction. The request's row lock comes first, in its own statement: under READ COMMITTED the
 * next statement takes a fresh snapshot, so the vote count it reads includes every vote committed before the
 * lock was granted (a count read in the locking statement itself could be stale).
 */
async function recordVoteIn(
  client: pg.PoolClient,
  id: string,
  vote: ApprovalVote,
  effect: VoteEffect,
): Promise<VoteResult> {
  const locked = await client.query<{ state: ApprovalState }>(
    "SELECT state FROM latch_approval_requests WHERE id = $1 FOR NO KEY UPDATE",
    [id],
  );
  if (locked.rows[0]?.state !== "pending") return "not_pending";
  const counted = await client.query<{ votes: number; mine: boolean }>(
    `SELECT count(*)::integer AS votes, coalesce(bool_or(approver = $2), false) AS mine
     FROM latch_approval_votes WHERE request_id = $1`,
    [id, vote.approver],
  );
  const { votes, mine } = counted.rows[0]!;
  if (mine) return "already_voted";
  if (votes !== effect.votesBefore) return "changed";
  await client.query(
    `INSERT INTO latch_approval_votes (request_id, approver, approver_issuer, vote, reason, grant_for_ms, at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [id, vote.approver, vote.approverIssuer, vote.vote, vote.reason, vote.grantForMs ?? null, vote.at],
  );
  if (effect.grant !== undefined) await client.query(INSERT_GRANT, grantParams(effect.grant));
  if (effect.state !== "pending") {
    await client.query(
      `UPDATE latch_approval_requests SET state = $2, decided_at = $3, decision_reason = $4, grant_id = $5
       WHERE id = $1 AND state = 'pending'`,
      [
        id,
        effect.state,
        effect.decidedAt ?? vote.at,
        effect.decisionReason ?? null,
        effect.grant?.id ?? null,
      ],
    );
  }
  return "recorded";
}

/**
 * Runs `work` in one transaction on one pooled connection: COMMIT if it resolves, ROLLBACK if it rejects (the
 * rejection is passed on). A connection whose ROLLBACK failed is discarded, not returned to the pool.
 */
async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch((rollbackFailure: Error) => {
      broken = rollbackFailure;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

function grantParams(grant: Grant): unknown[] {
  return [
    grant.id,
    grant.requestId,
    grant.principal,
    grant.connection,
    JSON.stringify(grant.accesses),
    grant.group,
    grant.quorum,
    grant.usesLeft,
    grant.createdAt,
    grant.expiresAt,
    grant.revokedAt,
    grant.revokedBy,
    grant.revokeReason,
  ];
}

const toMs = (value: string | null): number | null => (value === null ? null : Number(value));

function toRequest(row: RequestRow): ApprovalRequest {
  return {
    id: row.id,
    mode: row.mode,
    state: row.state,
    binding: row.binding,
    sessionId: row.session_id,
    operationId: row.operation_id,
    connection: row.connection,
    requester: row.requester,
    requesterIssuer: row.requester_issuer,
    requesterGroups: row.requester_groups,
    ...(row.requester_actors === null ? {} : { actors: row.requester_actors }),
    statements: row.statements,
    parameters: row.parameters,
    accesses: row.accesses,
    group: row.approval_group,
    quorum: row.quorum,
    rules: row.rules,
    reason: row.reason,
    requestedForMs: toMs(row.requested_for_ms),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    decidedAt: toMs(row.decided_at),
    decisionReason: row.decision_reason,
    consumedAt: toMs(row.consumed_at),
    grantId: row.grant_id,
    ...(row.preview === null || row.preview === undefined ? {} : { preview: row.preview }),
    votes: row.votes.map(
      (vote): ApprovalVote => ({
        approver: vote.approver,
        approverIssuer: vote.approverIssuer,
        vote: vote.vote,
        reason: vote.reason,
        ...(vote.grantForMs === null ? {} : { grantForMs: vote.grantForMs }),
        at: vote.at,
      }),
    ),
  };
}

function toGrant(row: GrantRow): Grant {
  return {
    id: row.id,
    requestId: row.request_id,
    principal: row.principal,
    connection: row.connection,
    accesses: row.accesses,
    group: row.approval_group,
    quorum: row.quorum,
    usesLeft: row.uses_left,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    revokedAt: toMs(row.revoked_at),
    revokedBy: row.revoked_by,
    revokeReason: row.revoke_reason,
  };
}
