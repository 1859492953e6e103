import type { MysqlConnectionConfig } from "../../config/schema.js";
import { resolveSecret } from "../../config/secrets.js";
import type { CredentialProvider } from "../../credentials/credential-provider.js";
import type { MysqlEphemeralUsers } from "./ephemeral-users.js";

/** What Latch logs in upstream with: the connection's own user unless a per-session user replaces it. */
export interface MysqlCredential {
  readonly user?: string;
  readonly password?: string;
}

/**
 * A connection's credential: a fresh user per session when `ephemeral:` is set (dropped when the session ends),
 * else the configured password (resolved at each login, so a rotated secret is picked up).
 */
export function mysqlCredentialProvider(
  name: string,
  connection: MysqlConnectionConfig,
  ephemeral: MysqlEphemeralUsers | undefined,
): CredentialProvider<MysqlCredential> {
  if (ephemeral !== undefined) {
    return {
      issue: ({ sessionId }) => ephemeral.issue(sessionId),
      revoke: (credential, { sessionId }, reason) => {
        if (credential.user !== undefined) void ephemeral.revoke(credential.user, sessionId, reason);
      },
    };
  }
  const secret = connection.password;
  return {
    issue: async () =>
      secret === undefined ? {} : { password: resolveSecret(secret, `connection ${name}`) },
  };
}
