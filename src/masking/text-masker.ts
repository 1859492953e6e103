import type { LatchConfig } from "../config/schema.js";
import { type CompiledMaskingProfile, compileMaskingProfiles } from "./masking-profile.js";
import { ValueMasker } from "./value-masker.js";

/**
 * The plain-text adapter of the masking core: every value a profile's content detectors find in a string is
 * masked with its detector's strategy. Text has no columns, so column rules do not apply, and a `null`
 * strategy redacts the span instead: a piece of text cannot become null.
 */
export type TextMasker = (text: string) => string;

/** A text masker over compiled detectors; undefined when there are none (nothing to mask in text). */
export function createTextMasker(profile: Pick<CompiledMaskingProfile, "detectors">): TextMasker | undefined {
  if (profile.detectors.length === 0) return undefined;
  const masker = new ValueMasker(profile.detectors);
  return (text) => masker.maskText(text, false) ?? text;
}

/**
 * Masking for recorded terminal output (SSH): the text masker of the connection's profiles, applied to each
 * recorded chunk before it is stored. Compiled at start-up so a bad profile stops the gateway.
 * A value split across two reads of the target's output is seen in two halves and may escape detection.
 */
export function createRecordingMasker(
  profileNames: readonly string[],
  profiles: LatchConfig["masking"],
): TextMasker | undefined {
  if (profileNames.length === 0) return undefined;
  return createTextMasker(compileMaskingProfiles(profileNames, profiles));
}
