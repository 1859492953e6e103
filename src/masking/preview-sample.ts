import type { PreviewSample } from "../operation/statement-preview.js";
import type { CompiledMaskingProfile } from "./masking-profile.js";
import { ValueMasker } from "./value-masker.js";

/**
 * The changed rows an approver sees, masked as the connection masks results: a column under a column rule is
 * masked whole, every other value goes through the content detectors. Column rules need the table the
 * columns belong to; when the statement wrote several tables (so RETURNING's columns cannot be attributed)
 * and the connection has column rules, the sample is withheld rather than shown unmasked. Capped at
 * `maxBytes` of JSON.
 */
export function maskSample(
  raw: {
    readonly columns: readonly string[];
    readonly rows: readonly (readonly (string | null)[])[];
    readonly truncated: boolean;
  },
  table: string | undefined,
  profile: CompiledMaskingProfile | undefined,
  maxBytes: number,
): PreviewSample | { readonly withheld: string } {
  const active = profile?.active === true;
  if (active && table === undefined && profile.columns.size > 0)
    return {
      withheld:
        "sample withheld: the statement writes several tables, so masked columns cannot be told apart",
    };
  const detector = active && profile.detectors.length > 0 ? new ValueMasker(profile.detectors) : undefined;
  const strategies = raw.columns.map((column) =>
    active && table !== undefined ? profile.columns.get(`${table}.${column.toLowerCase()}`) : undefined,
  );
  const rows: (string | null)[][] = [];
  let bytes = JSON.stringify(raw.columns).length;
  let truncated = raw.truncated;
  for (const row of raw.rows) {
    const masked = row.map((value, index) => {
      if (value === null) return null;
      const strategy = strategies[index];
      if (strategy !== undefined) return strategy.apply(value);
      return detector === undefined ? value : detector.maskText(value);
    });
    bytes += JSON.stringify(masked).length + 1;
    if (bytes > maxBytes) {
      truncated = true;
      break;
    }
    rows.push(masked);
  }
  return { columns: [...raw.columns], rows, truncated };
}
