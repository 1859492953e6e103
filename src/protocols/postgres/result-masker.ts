/**
 * The per-session streaming masker on the server -> client path. The relay hands it every server frame after
 * the session is ready; it returns the frame to send (the same Buffer when untouched, a re-encoded one when
 * masked) or null to send nothing. Masking never fails open: when a result cannot be masked safely, its rows
 * are withheld and the result ends with an ErrorResponse instead of its CommandComplete. DataRows go through
 * the row adapter (row-masker.ts); COPY data, errors, notices and notifications through content detection here.
 *
 * Catalog lookups are asynchronous and must finish before rows flow: the relay calls prepare(frame) for each
 * frame and, when it returns a promise, stops reading server frames until it settles, then hands the frame in.
 */

import type { MaskTally } from "../../masking/mask-tally.js";
import { MaskingFailure } from "../../masking/masking-failure.js";
import type { CompiledMaskingProfile } from "../../masking/masking-profile.js";
import { ValueMasker } from "../../masking/value-masker.js";
import type { ColumnProvenance } from "../../sql/postgres/column-provenance.js";
import { findMaskedColumnUses } from "../../sql/postgres/masking-facts.js";
import { encodeErrorResponse } from "./encode-backend.js";
import { ProtocolViolation } from "./frame-reader.js";
import type { Frame } from "./messages.js";
import {
  COPY_DATA,
  COPY_DONE,
  COPY_OUT_RESPONSE,
  DATA_ROW,
  decodeCopyOutResponse,
  decodeNotificationResponse,
  decodeResponseFields,
  decodeRowDescription,
  ERROR_RESPONSE,
  encodeCopyData,
  encodeNotificationResponse,
  encodeResponseFields,
  NOTICE_RESPONSE,
  NOTIFICATION_RESPONSE,
  type ResponseField,
  ROW_DESCRIPTION,
} from "./row-codec.js";
import { RowMasker } from "./row-masker.js";

const COMMAND_COMPLETE = 0x43; // C
const READY_FOR_QUERY = 0x5a; // Z
const EMPTY_QUERY_RESPONSE = 0x49; // I
const NO_DATA = 0x6e; // n

export type StatementCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface ResultMasker {
  /** False when the profile masks nothing: the relay may skip the masker altogether. */
  readonly active: boolean;
  /** Strict / on_derived / COPY rules for one statement's text, before it is forwarded. */
  checkStatement(sql: string): StatementCheck;
  /** Loads catalog entries a RowDescription needs; undefined when nothing has to be awaited. */
  prepare(frame: Frame): Promise<void> | undefined;
  /** The frame to send for `frame` (same Buffer when untouched), or null to send nothing. */
  onServerFrame(frame: Frame): Buffer | null;
  /**
   * A bound parameter's text preview for the record, through the content detectors. Column rules cannot
   * apply: a parameter has no column (the statement decides where it goes).
   */
  maskParameterPreview(text: string): string;
  /** What was masked since the relay last reset it (at each ReadyForQuery): counts for the `mask` span. */
  readonly tally: MaskTally;
}

export interface ResultMaskerOptions {
  /** Told about every withheld result (for logs and audit); `reason` never contains a value. */
  readonly onFailure?: (reason: string) => void;
}

/** SQLSTATE 42501 (insufficient_privilege): the client may not see this result. */
const WITHHELD_SQLSTATE = "42501";

export function createResultMasker(
  profile: CompiledMaskingProfile,
  provenance: ColumnProvenance,
  options: ResultMaskerOptions = {},
): ResultMasker {
  return new StreamingResultMasker(profile, provenance, options);
}

class StreamingResultMasker implements ResultMasker {
  readonly active: boolean;
  readonly tally: MaskTally;
  private readonly values: ValueMasker;
  private readonly hasColumnRules: boolean;
  private readonly rows: RowMasker;
  private copyOut: { readonly binary: boolean } | undefined;
  /** Set once a result could not be masked: its remaining rows are dropped and it ends in an error. */
  private withheld: string | undefined;

  constructor(
    private readonly profile: CompiledMaskingProfile,
    private readonly provenance: ColumnProvenance,
    private readonly options: ResultMaskerOptions,
  ) {
    this.active = profile.active;
    this.values = new ValueMasker(profile.detectors);
    this.tally = this.values.tally;
    this.hasColumnRules = profile.columns.size > 0;
    this.rows = new RowMasker(profile, provenance, this.values);
  }

  checkStatement(sql: string): StatementCheck {
    if (!this.hasColumnRules) return { ok: true };
    const facts = findMaskedColumnUses(sql, this.profile.columns.keys());
    if (!facts.ok) return { ok: false, reason: "the statement could not be analysed for masked columns" };
    for (const use of facts.uses) {
      if (use.place === "copy") {
        return { ok: false, reason: `COPY of masked column ${use.column} (COPY rows carry no provenance)` };
      }
      if (use.place === "derived" && this.profile.onDerived === "deny") {
        return { ok: false, reason: `masked column ${use.column} is used inside an expression` };
      }
      if (use.place === "predicate" && this.profile.strict) {
        return { ok: false, reason: `masked column ${use.column} is used in a predicate or ordering` };
      }
    }
    return { ok: true };
  }

  maskParameterPreview(text: string): string {
    return this.values.detects ? (this.values.maskText(text, false) ?? "") : text;
  }

  prepare(frame: Frame): Promise<void> | undefined {
    if (frame.type !== ROW_DESCRIPTION || !this.hasColumnRules) return undefined;
    const oids = decodeRowDescription(frame.body).map((field) => field.tableOid);
    return this.provenance.warm(oids);
  }

  onServerFrame(frame: Frame): Buffer | null {
    if (!this.active) return frame.raw;
    try {
      return this.dispatch(frame);
    } catch (error) {
      if (error instanceof ProtocolViolation) throw error; // the upstream broke the protocol: end the session
      const reason = error instanceof MaskingFailure ? error.reason : "internal masking error";
      return this.withhold(reason, frame);
    }
  }

  private dispatch(frame: Frame): Buffer | null {
    switch (frame.type) {
      case ROW_DESCRIPTION:
        this.rows.describe(decodeRowDescription(frame.body));
        return this.withheld === undefined ? frame.raw : null;
      case NO_DATA:
        this.rows.forget();
        return frame.raw;
      case DATA_ROW:
        if (this.withheld !== undefined) return null;
        return this.rows.mask(frame);
      case COPY_OUT_RESPONSE:
        this.copyOut = { binary: decodeCopyOutResponse(frame.body).format === 1 };
        return frame.raw;
      case COPY_DATA:
        if (this.copyOut === undefined) return frame.raw; // COPY FROM echo does not happen; nothing to mask
        if (this.withheld !== undefined) return null;
        return this.maskCopyData(frame);
      case COPY_DONE:
        return this.withheld === undefined ? frame.raw : null;
      case ERROR_RESPONSE:
      case NOTICE_RESPONSE: {
        const masked = this.maskResponseFields(frame);
        if (frame.type === ERROR_RESPONSE) this.endResult(); // the server's error replaces the result anyway
        return masked;
      }
      case NOTIFICATION_RESPONSE:
        return this.maskNotification(frame);
      case COMMAND_COMPLETE: {
        if (/^(?:CREATE|ALTER|DROP|IMPORT)\b/.test(frame.body.toString("latin1", 0, 16))) {
          this.provenance.invalidate();
        }
        const withheld = this.withheld;
        this.endResult();
        return withheld === undefined ? frame.raw : this.withheldError(withheld);
      }
      case EMPTY_QUERY_RESPONSE:
      case READY_FOR_QUERY: {
        const withheld = this.withheld;
        this.endResult();
        if (withheld === undefined) return frame.raw;
        return Buffer.concat([this.withheldError(withheld), frame.raw]);
      }
      default:
        return frame.raw;
    }
  }

  private withhold(reason: string, frame: Frame): Buffer | null {
    if (this.withheld === undefined) {
      this.withheld = reason;
      this.tally.noteWithheld();
      this.options.onFailure?.(reason);
    }
    // A failure on a frame that ends the result must still end it for the client.
    if (frame.type === COMMAND_COMPLETE || frame.type === READY_FOR_QUERY) {
      this.endResult();
      const error = this.withheldError(reason);
      return frame.type === READY_FOR_QUERY ? Buffer.concat([error, frame.raw]) : error;
    }
    if (frame.type === ERROR_RESPONSE) {
      this.endResult();
      return this.withheldError(reason);
    }
    return null;
  }

  private endResult(): void {
    this.rows.forget();
    this.copyOut = undefined;
    this.withheld = undefined;
  }

  private withheldError(reason: string): Buffer {
    return encodeErrorResponse({
      severity: "ERROR",
      code: WITHHELD_SQLSTATE,
      message: `result withheld by Latch masking: ${reason}`,
      detail: "latch error code: masking_failed",
    });
  }

  // ---- COPY and messages -----------------------------------------------------------------------------------

  private maskCopyData(frame: Frame): Buffer {
    const body = frame.body;
    if (this.copyOut!.binary) {
      if (this.values.finds(body.toString("latin1"))) {
        throw new MaskingFailure("binary COPY data holds sensitive data; use text format");
      }
      return frame.raw;
    }
    const outcome = this.values.detect(body, 0, body.length, false);
    if (!outcome.changed || outcome.value === null) return frame.raw;
    this.tally.noteMaskedRow(1);
    return encodeCopyData(outcome.value);
  }

  private maskResponseFields(frame: Frame): Buffer {
    const fields = decodeResponseFields(
      frame.body,
      frame.type === ERROR_RESPONSE ? "ErrorResponse" : "NoticeResponse",
    );
    const sqlstate = fields.find((field) => field.code === 0x43)?.value ?? "";
    // Data exceptions (22) and constraint violations (23) quote the offending value, whatever column it is from.
    const quotesValues = this.hasColumnRules && (sqlstate.startsWith("22") || sqlstate.startsWith("23"));
    let changed = false;
    const masked: ResponseField[] = fields.map((field) => {
      if (!MESSAGE_TEXT_FIELDS.has(field.code)) return field;
      let value = this.values.detects ? (this.values.maskText(field.value, false) ?? "") : field.value;
      if (quotesValues) value = field.code === 0x44 ? WITHHELD_DETAIL : scrubQuotedValues(value);
      if (value === field.value) return field;
      changed = true;
      return { code: field.code, value };
    });
    return changed ? encodeResponseFields(frame.type, masked) : frame.raw;
  }

  private maskNotification(frame: Frame): Buffer {
    const notification = decodeNotificationResponse(frame.body);
    if (!this.values.detects) return frame.raw;
    const payload = this.values.maskText(notification.payload, false) ?? "";
    if (payload === notification.payload) return frame.raw;
    return encodeNotificationResponse({ ...notification, payload });
  }
}

/** M message, D detail, H hint, W where (context), q internal query: text that may quote data. */
const MESSAGE_TEXT_FIELDS: ReadonlySet<number> = new Set([0x4d, 0x44, 0x48, 0x57, 0x71]);

const WITHHELD_DETAIL = "[detail withheld by Latch masking]";

/** Replaces every "quoted" run (PostgreSQL quotes values in error messages) with "[masked]". */
export function scrubQuotedValues(text: string): string {
  return text.replace(/"(?:[^"]|"")*"/g, '"[masked]"').replace(/=\(.*\)/g, "=([masked])");
}
