import type { LoadedConfig } from "../config/load-config.js";
import { createCedarPolicyEngine } from "../policy/create-cedar-engine.js";
import { engineOptionsOf } from "../policy/engine-options.js";
import { loadPolicies } from "../policy/load-policies.js";
import type { PolicyEngine } from "../policy/policy-engine.js";
import { createPolicyReach } from "../policy/policy-reach.js";
import type { PolicyReach } from "../protocols/agent-services.js";

/**
 * The policy set in force and what is derived from it. Everything reads it through `engine` / `reach` at the
 * moment of use, so a reload applies to the next operation everywhere; an invalid new set throws from
 * `reload` and the old one stays.
 */
export class PolicyHolder {
  private constructor(
    private readonly config: LoadedConfig["config"],
    private current: PolicyEngine,
    private currentReach: PolicyReach,
  ) {}

  static async load(config: LoadedConfig["config"]): Promise<PolicyHolder> {
    const loaded = await loadPolicies(config.policies);
    return new PolicyHolder(
      config,
      createCedarPolicyEngine(loaded, engineOptionsOf(config)),
      createPolicyReach(loaded),
    );
  }

  get engine(): PolicyEngine {
    return this.current;
  }

  reach(question: Parameters<PolicyReach>[0]): ReturnType<PolicyReach> {
    return this.currentReach(question);
  }

  async reload(): Promise<PolicyEngine> {
    const loaded = await loadPolicies(this.config.policies);
    const engine = createCedarPolicyEngine(loaded, engineOptionsOf(this.config));
    const reach = createPolicyReach(loaded);
    this.current = engine;
    this.currentReach = reach;
    return engine;
  }
}
