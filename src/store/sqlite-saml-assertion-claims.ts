import type { SamlAssertionClaims } from "../identity/saml-assertion.js";
import { guardSideStore, openSqliteSideConnection } from "./sqlite-side-connection.js";

export interface SqliteSamlAssertionClaims extends SamlAssertionClaims {
  close(): void;
}

/**
 * Used SAML assertion ids in the gateway's SQLite file, through a connection of its own (like console sessions).
 * SQLite runs one statement at a time, so the conditional insert is the whole claim; expired rows are swept first.
 */
export function createSqliteSamlAssertionClaims(file: string): SqliteSamlAssertionClaims {
  const opened = openSqliteSideConnection(file, "SAML assertion claim store");
  const sweep = opened.prepare("DELETE FROM saml_assertion_claims WHERE keep_until <= ?");
  const insert = opened.prepare(
    `INSERT INTO saml_assertion_claims (issuer, id_hash, keep_until) VALUES (?, ?, ?)
     ON CONFLICT (issuer, id_hash) DO UPDATE SET keep_until = excluded.keep_until WHERE keep_until <= ?`,
  );
  return guardSideStore<SqliteSamlAssertionClaims>(file, {
    claim: async (idHash, issuer, keepUntil, now) => {
      sweep.run(now);
      return insert.run(issuer, idHash, keepUntil, now).changes === 1;
    },
    close: () => opened.close(),
  });
}
