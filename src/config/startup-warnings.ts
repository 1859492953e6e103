import type { LatchConfig } from "./schema.js";

/** Something a gateway can start with but can do nothing useful with; `latch serve --strict` refuses them. */
export interface StartupWarning {
  readonly code: "no_connections" | "no_policies" | "no_issuers";
  readonly message: string;
}

/**
 * What is missing for this gateway to let anyone through: each on its own would make every login or every
 * statement fail, and without a word at start the first sign is a client's error. Pure: the caller logs them
 * (or refuses to start on them) after loading the policies.
 */
export function startupWarnings(
  config: Pick<LatchConfig, "connections" | "policies" | "identity">,
  policyCount: number,
): StartupWarning[] {
  const warnings: StartupWarning[] = [];
  if (Object.keys(config.connections).length === 0) {
    warnings.push({
      code: "no_connections",
      message: "no connections are configured (connections: in latch.yaml): every client will be refused",
    });
  }
  if (policyCount === 0) {
    warnings.push({
      code: "no_policies",
      message: `no policies in ${config.policies} (*.cedar files): every statement will be denied`,
    });
  }
  if (!config.identity.dev_issuer && config.identity.issuers.length === 0) {
    warnings.push({
      code: "no_issuers",
      message:
        "no token issuers are trusted (identity.issuers is empty and identity.dev_issuer is false): every login will be refused",
    });
  }
  return warnings;
}
