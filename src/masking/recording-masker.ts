import type { LatchConfig } from "../config/schema.js";
import { compileMaskingProfiles } from "./masking-profile.js";
import { ValueMasker } from "./value-masker.js";

/**
 * Masking for recorded terminal output (SSH): the content detectors of the connection's profiles, applied to
 * each recorded chunk before it is stored. Compiled at start-up so a bad profile stops the gateway.
 * A value split across two reads of the target's output is seen in two halves and may escape detection.
 */
export function createRecordingMasker(
  profileNames: readonly string[],
  profiles: LatchConfig["masking"],
): ((text: string) => string) | undefined {
  if (profileNames.length === 0) return undefined;
  const compiled = compileMaskingProfiles(profileNames, profiles);
  if (compiled.detectors.length === 0) return undefined;
  const masker = new ValueMasker(compiled.detectors);
  return (text) => masker.maskText(text, false) ?? text;
}
