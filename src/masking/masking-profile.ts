/**
 * Turns the `masking:` profiles a connection lists into one compiled profile: detectors with their strategies,
 * column rules keyed by qualified column name, and the derived/strict rules. Several profiles on one
 * connection combine towards more masking: rules add up, `deny` beats `mask`, `strict` beats lax.
 */
import type { MaskingProfileConfig, SecretRef } from "../config/schema.js";
import { resolveSecret } from "../config/secrets.js";
import { LatchError } from "../errors.js";
import { BUILTIN_DETECTOR_NAMES, BUILTIN_DETECTORS, customDetector, type Detector } from "./detectors.js";
import { createStrategy, type MaskingStrategy, type StrategyName } from "./strategies.js";

export interface MaskingDetector {
  readonly detector: Detector;
  readonly strategy: MaskingStrategy;
}

export interface CompiledMaskingProfile {
  readonly profiles: readonly string[];
  readonly detectors: readonly MaskingDetector[];
  /** "schema.table.column", lower-cased as PostgreSQL folds unquoted names, to its strategy. */
  readonly columns: ReadonlyMap<string, MaskingStrategy>;
  readonly onDerived: "mask" | "deny";
  readonly strict: boolean;
  /** False when there is nothing to mask: the relay can skip the masker entirely. */
  readonly active: boolean;
}

export type SecretResolver = (ref: SecretRef, purpose: string) => string;

/**
 * Qualifies `table.column` with the default schema (PostgreSQL: public; MySQL: the connection's database) and
 * lower-cases it; refuses anything that is not 2 or 3 parts.
 */
export function qualifyColumn(name: string, defaultSchema = "public"): string {
  const parts = name.split(".");
  if (parts.length === 2) parts.unshift(defaultSchema);
  if (parts.length !== 3 || parts.some((part) => part === "")) {
    throw new LatchError("config_invalid", {
      detail: `masking column "${name}": expected schema.table.column or table.column`,
    });
  }
  return parts.join(".").toLowerCase();
}

/** The names DESIGN.md and older configs use, mapped onto the built-in detectors. */
const DETECTOR_ALIASES: Readonly<Record<string, readonly string[]>> = {
  credit_card: ["card"],
  us_ssn: ["ssn"],
  api_key: ["aws_access_key", "github_token", "slack_token", "stripe_key", "jwt", "private_key"],
};

export function compileMaskingProfiles(
  names: readonly string[],
  profiles: Readonly<Record<string, MaskingProfileConfig>>,
  resolve: SecretResolver = resolveSecret,
  defaultSchema = "public",
): CompiledMaskingProfile {
  const detectors = new Map<string, MaskingDetector>();
  const columns = new Map<string, MaskingStrategy>();
  let onDerived: "mask" | "deny" = "mask";
  let strict = false;
  for (const name of names) {
    const profile = Object.hasOwn(profiles, name) ? profiles[name] : undefined;
    if (profile === undefined) {
      throw new LatchError("config_invalid", {
        detail: `masking profile "${name}" is not defined under masking:`,
      });
    }
    const strategyFor = strategyFactory(name, profile, resolve);
    for (const entry of profile.detectors) {
      const spec = typeof entry === "string" ? { name: entry } : entry;
      const detectorNames =
        spec.name === "all" ? BUILTIN_DETECTOR_NAMES : (DETECTOR_ALIASES[spec.name] ?? [spec.name]);
      for (const detectorName of detectorNames) {
        const detector = Object.hasOwn(BUILTIN_DETECTORS, detectorName)
          ? BUILTIN_DETECTORS[detectorName]
          : undefined;
        if (detector === undefined) {
          throw new LatchError("config_invalid", {
            detail: `masking profile "${name}": unknown detector "${detectorName}" (known: all, ${BUILTIN_DETECTOR_NAMES.join(", ")})`,
          });
        }
        detectors.set(detectorName, { detector, strategy: strategyFor(spec.strategy, spec.keep_last) });
      }
    }
    for (const custom of profile.custom_detectors) {
      let detector: Detector;
      try {
        detector = customDetector(custom.name, custom.pattern, custom.flags);
      } catch (error) {
        throw new LatchError("config_invalid", {
          detail: `masking profile "${name}": custom detector "${custom.name}": ${(error as Error).message}`,
        });
      }
      detectors.set(`custom:${name}:${custom.name}`, {
        detector,
        strategy: strategyFor(custom.strategy, custom.keep_last),
      });
    }
    for (const entry of profile.columns) {
      const spec = typeof entry === "string" ? { column: entry } : entry;
      columns.set(qualifyColumn(spec.column, defaultSchema), strategyFor(spec.strategy, spec.keep_last));
    }
    if (profile.on_derived === "deny") onDerived = "deny";
    if (profile.strict) strict = true;
  }
  return {
    profiles: [...names],
    detectors: [...detectors.values()],
    columns,
    onDerived,
    strict,
    active: detectors.size > 0 || columns.size > 0,
  };
}

function strategyFactory(
  profileName: string,
  profile: MaskingProfileConfig,
  resolve: SecretResolver,
): (strategy: StrategyName | undefined, keepLast: number | undefined) => MaskingStrategy {
  let hashKey: Buffer | undefined;
  return (strategy = profile.strategy, keepLast = profile.keep_last) => {
    if (strategy === "hash" && hashKey === undefined) {
      if (profile.hash_key === undefined) {
        throw new LatchError("config_invalid", {
          detail: `masking profile "${profileName}": the hash strategy needs hash_key (a secret reference)`,
        });
      }
      hashKey = Buffer.from(resolve(profile.hash_key, `masking profile "${profileName}" hash_key`), "utf8");
    }
    try {
      return createStrategy({ strategy, keepLast, ...(hashKey === undefined ? {} : { hashKey }) });
    } catch (error) {
      throw new LatchError("config_invalid", {
        detail: `masking profile "${profileName}": ${(error as Error).message}`,
      });
    }
  };
}
