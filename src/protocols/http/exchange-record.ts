import type { LatchError } from "../../errors.js";
import type { Operation } from "../../operation/operation.js";
import type { Admitter } from "../../pipeline/pipeline-types.js";
import type { HttpConnectionRuntime } from "./exchange-types.js";
import { scrubText } from "./secret-scrubber.js";
import type { HttpCredential } from "./upstream.js";

const PREVIEW_CHARS = 256;

/** What a failed exchange adds to its record besides the status and the error. */
export interface ExchangeFailure {
  readonly upstreamStatus?: number;
  readonly responseBytes?: number;
  readonly aborted?: true;
}

/** One `commandTags` per status, shared: the record only reads it. */
const statusTags = new Map<number, readonly string[]>();

function tagsOf(status: number): readonly string[] {
  let tags = statusTags.get(status);
  if (tags === undefined) {
    tags = Object.freeze([String(status)]);
    if (statusTags.size < 1000) statusTags.set(status, tags);
  }
  return tags;
}

/**
 * The recorder of one admitted request (the `operation_result`), called once when its response is settled (or
 * its stream ends): `answered` for an answer the caller got, `failed` for one it did not get whole. A JSON
 * request body read whole (`jsonBody`) is previewed, masked, only then. One object per request with its
 * fields, no closure; the details are built in sorted key order (aborted, requestPreview, responseBytes,
 * responsePreview, status, upstreamStatus), so the record neither sorts them nor walks them in canonical JSON
 * (pipeline/operation-record.ts).
 */
export class ExchangeRecorder {
  constructor(
    private readonly pipeline: Admitter,
    private readonly operation: Operation,
    private readonly started: number,
    private readonly runtime: HttpConnectionRuntime,
    private readonly credential: HttpCredential,
    private readonly jsonBody: Buffer | undefined,
  ) {}

  answered(status: number, responseBytes: number, responsePreview?: string): void {
    const details: Record<string, unknown> = {};
    if (this.jsonBody !== undefined) details.requestPreview = this.requestPreview(this.jsonBody);
    details.responseBytes = responseBytes;
    if (responsePreview !== undefined) details.responsePreview = responsePreview;
    details.status = status;
    this.pipeline.complete(this.operation, {
      durationMs: performance.now() - this.started,
      rows: 0,
      commandTags: tagsOf(status),
      details,
    });
  }

  failed(status: number, error: LatchError, failure: ExchangeFailure): void {
    const details: Record<string, unknown> = {};
    if (failure.aborted !== undefined) details.aborted = failure.aborted;
    if (this.jsonBody !== undefined) details.requestPreview = this.requestPreview(this.jsonBody);
    if (failure.responseBytes !== undefined) details.responseBytes = failure.responseBytes;
    details.status = status;
    if (failure.upstreamStatus !== undefined) details.upstreamStatus = failure.upstreamStatus;
    this.pipeline.complete(this.operation, {
      durationMs: performance.now() - this.started,
      rows: 0,
      commandTags: tagsOf(status),
      error: { code: error.code, message: error.message },
      details,
    });
  }

  /** A request body's preview: masked whole first, so a value cut by the preview's end is not half-shown. */
  private requestPreview(body: Buffer): string {
    const masked = this.runtime.masking.maskPreview(body.toString("utf8"));
    return scrubText(masked, this.credential.secrets).slice(0, PREVIEW_CHARS);
  }
}

/** An already masked response body's preview. */
export function responsePreview(body: Buffer, credential: HttpCredential): string {
  const text = body
    .subarray(0, PREVIEW_CHARS * 4)
    .toString("utf8")
    .slice(0, PREVIEW_CHARS);
  return scrubText(text, credential.secrets);
}
