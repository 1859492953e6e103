import type pg from "pg";
import type { SamlAssertionClaims } from "../../identity/saml-assertion.js";

/**
 * Used SAML assertion ids on the PostgreSQL store every replica shares. The claim is one INSERT: of two replicas
 * claiming the same id at once, PostgreSQL lets exactly one insert it (the other waits, then conflicts). A row
 * past its keep_until may be claimed again (the assertion could not pass node-saml's time checks by then);
 * expired rows are swept at each claim.
 */
export function createPgSamlAssertionClaims(pool: pg.Pool): SamlAssertionClaims {
  return {
    async claim(idHash, issuer, keepUntil, now) {
      await pool.query({
        name: "latch_saml_claims_sweep",
        text: "DELETE FROM latch_saml_assertion_claims WHERE keep_until <= $1",
        values: [now],
      });
      const { rowCount } = await pool.query({
        name: "latch_saml_claim",
        text: `INSERT INTO latch_saml_assertion_claims AS claims (issuer, id_hash, keep_until) VALUES ($1, $2, $3)
               ON CONFLICT (issuer, id_hash) DO UPDATE SET keep_until = excluded.keep_until WHERE claims.keep_until <= $4`,
        values: [issuer, idHash, keepUntil, now],
      });
      return rowCount === 1;
    },
  };
}
