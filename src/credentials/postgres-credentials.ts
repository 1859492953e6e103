import type { PostgresConnectionConfig } from "../config/schema.js";
import { resolveSecret } from "../config/secrets.js";
import type { CredentialProvider } from "./credential-provider.js";
import type { PostgresEphemeralRoles } from "./postgres-ephemeral.js";

/** What Latch logs in upstream with: the connection's own user unless a per-session role replaces it. */
export interface PostgresCredential {
  readonly user?: string;
  readonly password?: string;
}

/**
 * A connection's credential: a fresh role per session when `ephemeral:` is set (dropped when the session
 * ends), else the configured password (resolved at each login, so a rotated secret is picked up).
 */
export function postgresCredentialProvider(
  name: string,
  connection: PostgresConnectionConfig,
  ephemeral: PostgresEphemeralRoles | undefined,
): CredentialProvider<PostgresCredential> {
  if (ephemeral !== undefined) {
    return {
      issue: ({ sessionId, identity }) => ephemeral.issue(sessionId, identity.subject),
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
