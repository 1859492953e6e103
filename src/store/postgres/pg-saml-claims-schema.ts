import type { PgMigration } from "./pg-migration.js";

/**
 * SAML assertion ids already used, shared by every replica: an assertion exchanged or signed in with through one
 * replica is refused by all of them. Only a SHA-256 hash of the ID is kept, per IdP issuer, until the assertion
 * could no longer be accepted anyway (`keep_until`, epoch ms).
 */
export const PG_SAML_CLAIMS_SCHEMA: PgMigration = {
  name: "saml assertion claims",
  sql: `
CREATE TABLE latch_saml_assertion_claims (
  issuer     text   NOT NULL,
  id_hash    text   NOT NULL CHECK (id_hash ~ '^[0-9a-f]{64}$'),
  keep_until bigint NOT NULL,
  PRIMARY KEY (issuer, id_hash)
);
CREATE INDEX latch_saml_assertion_claims_by_expiry ON latch_saml_assertion_claims (keep_until);
`,
};
