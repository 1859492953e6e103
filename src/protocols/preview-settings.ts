import type { PreviewConfig } from "../config/preview-config-schema.js";
import { parseDuration } from "../identity/parse-duration.js";

/** How a held write's preview runs (approvals.preview), in the units the preview runners use. */
export interface PreviewSettings {
  readonly statementTimeoutMs: number;
  readonly lockTimeoutMs: number;
  readonly sampleRows: number;
  readonly sampleBytes: number;
  readonly planBytes: number;
}

export function previewSettings(config: PreviewConfig): PreviewSettings {
  return {
    statementTimeoutMs: parseDuration(config.statement_timeout),
    lockTimeoutMs: parseDuration(config.lock_timeout),
    sampleRows: config.sample_rows,
    sampleBytes: config.sample_bytes,
    planBytes: config.plan_bytes,
  };
}
