import type { LatchConfig } from "../config/schema.js";
import type { CedarPolicyEngineOptions } from "./create-cedar-engine.js";
import { sensitivityFromConfig } from "./sensitivity.js";

/** What the config adds to every engine it builds (gateway, reload, replay, `policy test`): zone and labels. */
export function engineOptionsOf(
  config: Pick<LatchConfig, "policy" | "connections" | "masking">,
): CedarPolicyEngineOptions {
  return {
    ...(config.policy.time_zone === undefined ? {} : { timeZone: config.policy.time_zone }),
    sensitivity: sensitivityFromConfig(config),
  };
}
