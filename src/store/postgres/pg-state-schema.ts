import type { PgMigration } from "./pg-migration.js";

/**
 * Approval requests, votes and grants, principal blocks and live sessions: mutable state shared by replicas.
 * The same meaning as the SQLite schema (src/store/sqlite-migrations.ts, migrations 2 to 4): times the
 * interfaces carry as epoch ms are bigint epoch ms, JSON arrays are jsonb (checked to be arrays). Keys and the
 * text columns lists are ordered by are COLLATE "C": the same byte order as SQLite, whatever the database's
 * locale. Every conditional write the stores make (pg-approvals.ts, ...) is settled by a row lock here.
 */
export const PG_STATE_SCHEMA: PgMigration = {
  name: "approvals, grants, principal blocks, live sessions",
  sql: `
CREATE TABLE latch_approval_requests (
  id               text COLLATE "C" PRIMARY KEY,
  mode             text    NOT NULL CHECK (mode IN ('hold', 'defer', 'upfront')),
  state            text    NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'abandoned')),
  binding          text COLLATE "C" NOT NULL,  -- hex SHA-256 of connection, principal, statements, parameters
  session_id       text,
  operation_id     text,
  connection       text    NOT NULL,
  requester        text    NOT NULL,
  requester_issuer text    NOT NULL,
  requester_groups jsonb   NOT NULL CHECK (jsonb_typeof(requester_groups) = 'array'),
  statements       jsonb   NOT NULL CHECK (jsonb_typeof(statements) = 'array'),  -- exact texts
  parameters       jsonb   CHECK (jsonb_typeof(parameters) = 'array'),           -- array of arrays, or NULL
  accesses         jsonb   NOT NULL CHECK (jsonb_typeof(accesses) = 'array'),    -- "action resource"
  approval_group   text    NOT NULL,
  quorum           integer NOT NULL CHECK (quorum >= 1),
  rules            jsonb   NOT NULL CHECK (jsonb_typeof(rules) = 'array'),
  reason           text    NOT NULL,
  requested_for_ms bigint  CHECK (requested_for_ms >= 0),
  created_at       bigint  NOT NULL,  -- epoch ms
  expires_at       bigint  NOT NULL,
  decided_at       bigint,
  decision_reason  text,
  consumed_at      bigint,
  grant_id         text COLLATE "C"
);
CREATE INDEX latch_approval_requests_by_created ON latch_approval_requests (created_at DESC, id);
CREATE INDEX latch_approval_requests_by_state ON latch_approval_requests (state, created_at DESC, id);
CREATE INDEX latch_approval_requests_by_binding ON latch_approval_requests (binding, state);

CREATE TABLE latch_approval_votes (
  request_id      text COLLATE "C" NOT NULL REFERENCES latch_approval_requests (id),
  approver        text COLLATE "C" NOT NULL,
  approver_issuer text    NOT NULL,
  vote            text    NOT NULL CHECK (vote IN ('approve', 'deny')),
  reason          text    NOT NULL,
  grant_for_ms    bigint  CHECK (grant_for_ms >= 0),
  at              bigint  NOT NULL,  -- epoch ms
  PRIMARY KEY (request_id, approver)  -- one vote per person: quorum counts distinct approvers
);

CREATE TABLE latch_approval_grants (
  id             text COLLATE "C" PRIMARY KEY,
  request_id     text COLLATE "C" NOT NULL REFERENCES latch_approval_requests (id),
  principal      text    NOT NULL,
  connection     text    NOT NULL,
  accesses       jsonb   NOT NULL CHECK (jsonb_typeof(accesses) = 'array'),  -- "action resource"
  approval_group text    NOT NULL,
  quorum         integer NOT NULL CHECK (quorum >= 1),
  uses_left      integer CHECK (uses_left >= 0),  -- NULL: unlimited inside the window
  created_at     bigint  NOT NULL,  -- epoch ms
  expires_at     bigint  NOT NULL,
  revoked_at     bigint,
  revoked_by     text,
  revoke_reason  text
);
CREATE INDEX latch_approval_grants_by_principal ON latch_approval_grants (principal, connection, expires_at);
CREATE INDEX latch_approval_grants_by_created ON latch_approval_grants (created_at DESC, id);
CREATE INDEX latch_approval_grants_by_request ON latch_approval_grants (request_id);

CREATE TABLE latch_principal_blocks (
  principal  text COLLATE "C" PRIMARY KEY,
  blocked_by text   NOT NULL,
  reason     text   NOT NULL,
  blocked_at bigint NOT NULL  -- epoch ms, the store's clock (one clock for every replica)
);

CREATE TABLE latch_live_sessions (
  id             text COLLATE "C" PRIMARY KEY,
  gateway_id     text   NOT NULL,
  protocol       text   NOT NULL,
  connection     text   NOT NULL,
  subject        text   NOT NULL,
  groups         jsonb  NOT NULL CHECK (jsonb_typeof(groups) = 'array'),  -- strings
  client_address text   NOT NULL,
  started_at     bigint NOT NULL,  -- epoch ms
  last_seen      bigint NOT NULL   -- epoch ms: the gateway's last heartbeat
);
CREATE INDEX latch_live_sessions_by_gateway ON latch_live_sessions (gateway_id);
CREATE INDEX latch_live_sessions_by_last_seen ON latch_live_sessions (last_seen);
CREATE INDEX latch_live_sessions_by_start ON latch_live_sessions (started_at, id);
`,
};
