import type { PgMigration } from "./pg-migration.js";

/**
 * Console single sign-ons in progress, shared by every replica so the provider's callback may land on any of
 * them (pg-pending-sign-ins.ts). Keyed by a SHA-256 hash of the sign-in's random id; `data` is what the callback
 * needs (state, nonce, PKCE verifier, return path), for at most the sign-in's ten minutes.
 */
export const PG_PENDING_SIGN_IN_SCHEMA: PgMigration = {
  name: "console pending sign-ins",
  sql: `
CREATE TABLE latch_console_pending_sign_ins (
  id_hash    text   PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),
  kind       text   NOT NULL CHECK (kind IN ('oidc', 'saml')),
  provider   text   NOT NULL,
  data       jsonb  NOT NULL CHECK (jsonb_typeof(data) = 'object'),
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX latch_console_pending_sign_ins_by_expiry ON latch_console_pending_sign_ins (expires_at);
`,
};
