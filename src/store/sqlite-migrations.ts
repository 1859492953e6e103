import type Database from "better-sqlite3";
import { LatchError } from "../errors.js";

/**
 * Schema of the SQLite store, as an ordered list of migrations tracked in `PRAGMA user_version`. A migration
 * is never edited once released: add a new one.
 */
const MIGRATIONS: readonly string[] = [
  // 1: the audit chain, its head record, and the sessions index.
  `
  CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY,  -- 1-based, gap-free: a gap is a deleted event
    ts         TEXT    NOT NULL,     -- ISO-8601 UTC
    kind       TEXT    NOT NULL,
    session_id TEXT,
    data       TEXT    NOT NULL,     -- canonical JSON (RFC 8785), hashed byte for byte
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
  ) STRICT;
  CREATE INDEX audit_events_by_session ON audit_events (session_id, seq) WHERE session_id IS NOT NULL;

  -- Defence in depth only: anyone who can write the file can drop these. Verification is the guarantee.
  CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
  CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;

  -- The last appended event, updated in the same transaction as each append: the chain alone cannot show
  -- that events were removed from its end.
  CREATE TABLE chain_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
  ) STRICT;
  INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '${"0".repeat(64)}');
  CREATE TRIGGER chain_head_forward_only BEFORE UPDATE ON chain_head WHEN NEW.seq <= OLD.seq
    BEGIN SELECT RAISE(ABORT, 'chain_head only moves forward'); END;
  CREATE TRIGGER chain_head_no_delete BEFORE DELETE ON chain_head
    BEGIN SELECT RAISE(ABORT, 'chain_head cannot be deleted'); END;

  -- Derived from session_start / operation / session_end events, in the same transaction as the event.
  CREATE TABLE sessions (
    id             TEXT    PRIMARY KEY,
    protocol       TEXT    NOT NULL,
    connection     TEXT    NOT NULL,
    subject        TEXT    NOT NULL,
    groups         TEXT    NOT NULL,  -- JSON array of strings
    client_address TEXT    NOT NULL,
    started_at     TEXT    NOT NULL,
    ended_at       TEXT,
    end_reason     TEXT,
    operations     INTEGER NOT NULL DEFAULT 0,
    denied         INTEGER NOT NULL DEFAULT 0
  ) STRICT;
  CREATE INDEX sessions_by_start ON sessions (started_at);
  CREATE INDEX sessions_by_subject ON sessions (subject, started_at);

  -- /healthz writes here to prove the store is writable without touching the chain.
  CREATE TABLE health_check (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at TEXT NOT NULL) STRICT;
  INSERT INTO health_check (id, checked_at) VALUES (1, '');
  `,
  // 2: just-in-time approval requests, their votes, and the grants approvals create (sqlite-approvals.ts).
  `
  CREATE TABLE approval_requests (
    id               TEXT    PRIMARY KEY,
    mode             TEXT    NOT NULL CHECK (mode IN ('hold', 'defer', 'upfront')),
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'abandoned')),
    binding          TEXT    NOT NULL,  -- hex SHA-256 of connection, principal, statements, parameters
    session_id       TEXT,
    operation_id     TEXT,
    connection       TEXT    NOT NULL,
    requester        TEXT    NOT NULL,
    requester_issuer TEXT    NOT NULL,
    requester_groups TEXT    NOT NULL,  -- JSON array
    statements       TEXT    NOT NULL,  -- JSON array of exact texts
    parameters       TEXT,              -- JSON array of arrays
    accesses         TEXT    NOT NULL,  -- JSON array of "action resource"
    approval_group   TEXT    NOT NULL,
    quorum           INTEGER NOT NULL CHECK (quorum >= 1),
    rules            TEXT    NOT NULL,  -- JSON array
    reason           TEXT    NOT NULL,
    requested_for_ms INTEGER,
    created_at       INTEGER NOT NULL,  -- epoch ms
    expires_at       INTEGER NOT NULL,
    decided_at       INTEGER,
    decision_reason  TEXT,
    consumed_at      INTEGER,
    grant_id         TEXT
  ) STRICT;
  CREATE INDEX approval_requests_by_state ON approval_requests (state, created_at);
  CREATE INDEX approval_requests_by_binding ON approval_requests (binding, state);

  CREATE TABLE approval_votes (
    request_id      TEXT    NOT NULL REFERENCES approval_requests (id),
    approver        TEXT    NOT NULL,
    approver_issuer TEXT    NOT NULL,
    vote            TEXT    NOT NULL CHECK (vote IN ('approve', 'deny')),
    reason          TEXT    NOT NULL,
    grant_for_ms    INTEGER,
    at              INTEGER NOT NULL,
    PRIMARY KEY (request_id, approver)  -- one vote per person: quorum counts distinct approvers
  ) STRICT;

  CREATE TABLE approval_grants (
    id             TEXT    PRIMARY KEY,
    request_id     TEXT    NOT NULL REFERENCES approval_requests (id),
    principal      TEXT    NOT NULL,
    connection     TEXT    NOT NULL,
    accesses       TEXT    NOT NULL,  -- JSON array of "action resource"
    approval_group TEXT    NOT NULL,
    quorum         INTEGER NOT NULL,
    uses_left      INTEGER,           -- NULL: unlimited inside the window
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    revoked_by     TEXT,
    revoke_reason  TEXT
  ) STRICT;
  CREATE INDEX approval_grants_by_principal ON approval_grants (principal, connection, expires_at);
  `,
  // 3: principals blocked by an administrator (issue 5): refused at login, live sessions ended.
  `
  CREATE TABLE principal_blocks (
    principal  TEXT    PRIMARY KEY,
    blocked_by TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    blocked_at INTEGER NOT NULL
  ) STRICT;
  `,
  // 4: sessions live now, per gateway (sqlite-live-sessions.ts); a shared store lists every replica's here.
  `
  CREATE TABLE live_sessions (
    id             TEXT    PRIMARY KEY,
    gateway_id     TEXT    NOT NULL,
    protocol       TEXT    NOT NULL,
    connection     TEXT    NOT NULL,
    subject        TEXT    NOT NULL,
    groups         TEXT    NOT NULL,  -- JSON array of strings
    client_address TEXT    NOT NULL,
    started_at     INTEGER NOT NULL,  -- epoch ms
    last_seen      INTEGER NOT NULL   -- epoch ms: the gateway's last heartbeat
  ) STRICT;
  CREATE INDEX live_sessions_by_gateway ON live_sessions (gateway_id);
  CREATE INDEX live_sessions_by_last_seen ON live_sessions (last_seen);
  `,
  // 5: gateways and their last heartbeat, so survivors can tell which replica is gone (its upstream roles).
  `
  CREATE TABLE gateways (
    id        TEXT    PRIMARY KEY,
    last_seen INTEGER NOT NULL  -- epoch ms
  ) STRICT;
  `,
  // 6: each live session's last activity, reported with its gateway's heartbeat.
  `
  ALTER TABLE live_sessions ADD COLUMN last_activity INTEGER;  -- epoch ms; NULL: none reported yet
  `,
  // 7: audit export cursors (audit-export/), and retention: events up to pruned_through may be deleted, no others.
  `
  CREATE TABLE audit_export_cursors (
    sink       TEXT    PRIMARY KEY,
    seq        INTEGER NOT NULL,  -- every event up to here was delivered to the sink
    updated_at INTEGER NOT NULL   -- epoch ms
  ) STRICT;
  CREATE TABLE audit_retention (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    pruned_through INTEGER NOT NULL,  -- events 1..pruned_through were deleted by retention
    anchor_hash    TEXT    NOT NULL,  -- the hash of event pruned_through (prev_hash of the first kept event)
    anchor_seq     INTEGER NOT NULL   -- the audit_checkpoint event whose signed head is (pruned_through, anchor_hash)
  ) STRICT;
  INSERT INTO audit_retention (id, pruned_through, anchor_hash, anchor_seq) VALUES (1, 0, '${"0".repeat(64)}', 0);
  CREATE TRIGGER audit_retention_forward_only BEFORE UPDATE ON audit_retention WHEN NEW.pruned_through < OLD.pruned_through
    BEGIN SELECT RAISE(ABORT, 'retention only moves forward'); END;
  CREATE INDEX audit_events_checkpoints ON audit_events (seq) WHERE kind = 'audit_checkpoint';
  DROP TRIGGER audit_events_no_delete;
  CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    WHEN OLD.seq > (SELECT pruned_through FROM audit_retention WHERE id = 1)
    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only (retention deletes only anchored events)'); END;
  `,
  // approval request previews (docs/approvals.md, "Preview, then commit"): JSON, null when none ran
  `ALTER TABLE approval_requests ADD COLUMN preview TEXT;`,
  // Console sign-ins kept in the store (only a SHA-256 hash of the cookie's id), and the requester's delegation
  // chain on approval requests (JSON array of {subject, issuer?}, current actor first; NULL: no chain).
  `
  CREATE TABLE console_sessions (
    id_hash    TEXT    PRIMARY KEY CHECK (length(id_hash) = 64),
    identity   TEXT    NOT NULL,  -- JSON object: subject, issuer, groups, ...
    expires_at INTEGER NOT NULL   -- epoch ms
  ) STRICT;
  CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
  ALTER TABLE approval_requests ADD COLUMN requester_actors TEXT;
  `,
  // MCP proxy connections: each upstream tool's pinned definition, and a changed one awaiting an admin's accept.
  `
  CREATE TABLE mcp_tool_pins (
    connection         TEXT NOT NULL,
    tool               TEXT NOT NULL,
    pinned_hash        TEXT,     -- NULL: never accepted (pinning: admin)
    pinned_definition  TEXT,
    pinned_at          INTEGER,  -- epoch ms
    pinned_by          TEXT,     -- "first-use" or the accepting administrator
    pending_hash       TEXT,     -- a different definition seen since, refused until accepted
    pending_definition TEXT,
    pending_since      INTEGER,  -- epoch ms
    PRIMARY KEY (connection, tool)
  ) STRICT;
  `,
  // SAML assertion ids already used (token exchange, console sign-in): a SHA-256 hash of the ID per IdP issuer,
  // kept until the assertion could no longer be accepted anyway.
  `
  CREATE TABLE saml_assertion_claims (
    issuer     TEXT    NOT NULL,
    id_hash    TEXT    NOT NULL CHECK (length(id_hash) = 64),
    keep_until INTEGER NOT NULL, -- epoch ms
    PRIMARY KEY (issuer, id_hash)
  ) STRICT;
  CREATE INDEX saml_assertion_claims_by_expiry ON saml_assertion_claims (keep_until);
  `,
  // Console single sign-ons in progress (a SHA-256 hash of the sign-in's random id; what the callback needs), kept
  // like the sign-ins themselves rather than in the memory of whichever process started them.
  `
  CREATE TABLE console_pending_sign_ins (
    id_hash    TEXT    PRIMARY KEY CHECK (length(id_hash) = 64),
    kind       TEXT    NOT NULL CHECK (kind IN ('oidc', 'saml')),
    provider   TEXT    NOT NULL,
    data       TEXT    NOT NULL, -- JSON object of strings
    created_at INTEGER NOT NULL, -- epoch ms
    expires_at INTEGER NOT NULL  -- epoch ms
  ) STRICT;
  CREATE INDEX console_pending_sign_ins_by_expiry ON console_pending_sign_ins (expires_at);
  `,
];

export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

/** Brings a writable database up to the current schema, each step in its own transaction. */
export function migrateSqliteStore(db: Database.Database, file: string): void {
  const current = readSchemaVersion(db, file);
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    }).immediate();
  }
}

/** Refuses a file written by a newer Latch: reading it with an older schema could misreport the chain. */
export function readSchemaVersion(db: Database.Database, file: string): number {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new LatchError("config_invalid", {
      detail: `store ${file} has schema version ${version}, newer than this Latch understands (${MIGRATIONS.length}): upgrade Latch`,
    });
  }
  return version;
}
