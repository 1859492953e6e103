import { createLocalJWKSet } from "jose";
import type { Logger } from "pino";
import type { LatchConfig } from "../config/schema.js";
import type { LocalIssuer } from "../identity/create-token-verifier.js";
import type { TokenVerifier } from "../identity/identity.js";
import type { SamlAssertionClaims } from "../identity/saml-assertion.js";
import type { AuditEventInput } from "../store/store.js";
import { type LatchSigningKey, loadLatchSigningKey } from "../token-exchange/latch-signing-key.js";
import type { TokenExchangeEndpoints } from "../token-exchange/token-exchange-routes.js";
import { createTokenExchange } from "../token-exchange/token-exchange-service.js";

/**
 * Latch's own issuer (identity.token_exchange): its key is loaded before the token verifier is built, so the
 * tokens it issues are accepted by psql, ssh, HTTP and MCP like any trusted issuer's, with keys resolved locally.
 */
export interface LatchIssuer {
  readonly issuer: string;
  readonly key: LatchSigningKey;
  readonly local: LocalIssuer;
}

export async function prepareLatchIssuer(config: LatchConfig): Promise<LatchIssuer | undefined> {
  const settings = config.identity.token_exchange;
  if (!settings.enabled) return undefined;
  const issuer = (settings.issuer ?? config.console.public_url ?? `http://${config.listen.admin}`).replace(
    /\/+$/,
    "",
  );
  const key = await loadLatchSigningKey(config);
  return {
    issuer,
    key,
    local: {
      issuer,
      audience: settings.audience,
      algorithms: [key.alg],
      keys: createLocalJWKSet({ keys: [key.publicJwk] }),
    },
  };
}

export function startTokenExchange(
  latch: LatchIssuer,
  deps: {
    config: LatchConfig;
    verifier: TokenVerifier;
    recordDurably: (event: AuditEventInput) => Promise<unknown>;
    log: Logger;
    assertionClaims: SamlAssertionClaims;
  },
): TokenExchangeEndpoints {
  const exchange = createTokenExchange({ ...deps, key: latch.key, issuer: latch.issuer });
  return { exchange, key: latch.key, issuer: latch.issuer };
}
