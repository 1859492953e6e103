import type { LatchError } from "../../errors.js";
import type { Operation } from "../../operation/operation.js";
import type { Admitter } from "../../pipeline/pipeline-types.js";
import type { HttpConnectionRuntime } from "./exchange-types.js";
import { scrubText } from "./secret-scrubber.js";
import type { HttpCredential } from "./upstream.js";

const PREVIEW_CHARS = 256;

/** Records how an exchange ended (the `operation_result`): the status and what the response stage adds. */
export type ExchangeRecorder = (status: number, extra: Record<string, unknown>, error?: LatchError) => void;

/**
 * The recorder of one admitted request, called once when its response is settled (or its stream ends). A JSON
 * request body read whole (`jsonBody`) is previewed, masked, only then.
 */
export function exchangeRecorder(
  pipeline: Admitter,
  operation: Operation,
  started: number,
  runtime: HttpConnectionRuntime,
  credential: HttpCredential,
  jsonBody: Buffer | undefined,
): ExchangeRecorder {
  return (status, extra, error) => {
    // Built field by field: this runs for every request, and spreads of empty objects add up.
    // In sorted key order when the response stage's keys are (responseBytes, responsePreview): the record then
    // skips sorting them (pipeline/operation-record.ts). Any other order is sorted there, with the same result.
    const details: Record<string, unknown> = {};
    if (jsonBody !== undefined) details.requestPreview = requestPreview(jsonBody, runtime, credential);
    for (const key in extra) if (key < "status") details[key] = extra[key];
    details.status = status;
    for (const key in extra) if (key >= "status") details[key] = extra[key];
    const durationMs = performance.now() - started;
    const commandTags = [String(status)];
    pipeline.complete(
      operation,
      error === undefined
        ? { durationMs, rows: 0, commandTags, details }
        : { durationMs, rows: 0, commandTags, error: { code: error.code, message: error.message }, details },
    );
  };
}

/** A request body's preview: masked whole first, so a value cut by the preview's end is not half-shown. */
function requestPreview(body: Buffer, runtime: HttpConnectionRuntime, credential: HttpCredential): string {
  const masked = runtime.masking.maskPreview(body.toString("utf8"));
  return scrubText(masked, credential.secrets).slice(0, PREVIEW_CHARS);
}

/** An already masked response body's preview. */
export function responsePreview(body: Buffer, credential: HttpCredential): string {
  const text = body
    .subarray(0, PREVIEW_CHARS * 4)
    .toString("utf8")
    .slice(0, PREVIEW_CHARS);
  return scrubText(text, credential.secrets);
}
