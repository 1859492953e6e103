/**
 * The per-session masker on the server -> client path of a MySQL session. The session tells it when a
 * command's answer begins (text or binary rows, and whether it echoes diagnostics), then hands it every server
 * packet with the kind the response tracker gave it; it returns the bytes to send. Column definitions are held
 * until the whole header of a result set is in, so a result that cannot be masked reaches the client as one
 * ERR packet and nothing else; a row that cannot be masked ends the result with an ERR and the rest is dropped.
 * Rewritten packets are re-framed (16 MiB continuation) and every later packet of the answer renumbered.
 * Never fails open: anything unreadable withholds the result.
 */
import { LatchError } from "../../errors.js";
import type { MaskTally } from "../../masking/mask-tally.js";
import { MaskingFailure } from "../../masking/masking-failure.js";
import type { CompiledMaskingProfile } from "../../masking/masking-profile.js";
import { ValueMasker } from "../../masking/value-masker.js";
import { createMaskedUseAnalyzer, type MaskingFacts } from "../../sql/mysql/masking-facts.js";
import { CAPABILITY } from "./capabilities.js";
import { type ColumnDefinition, decodeColumnDefinition } from "./column-definition.js";
import { errorPacket } from "./errors.js";
import { MAX_PACKET_PAYLOAD, type MysqlMessage } from "./packet-reader.js";
import { encodePacket } from "./packet-writer.js";
import { PayloadCursor } from "./payload-cursor.js";
import { decodeErr, encodeErr } from "./response-packets.js";
import type { ResponsePacketKind } from "./response-tracker.js";
import { MysqlRowMasker, scrubQuotedValues } from "./row-masker.js";

export type StatementCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface AnswerOptions {
  /** COM_STMT_EXECUTE: rows in the binary protocol. */
  readonly binary: boolean;
  /** SHOW WARNINGS / SHOW ERRORS: derived text holds values the server echoes in quotes. */
  readonly echoesDiagnostics: boolean;
}

/** True for a text that reads the server's diagnostics area (SHOW WARNINGS, SHOW ERRORS). */
export function readsDiagnostics(text: string): boolean {
  return /\bSHOW\s+(?:WARNINGS|ERRORS)\b/i.test(text);
}

/** The Level / Code / Message columns of SHOW WARNINGS and SHOW ERRORS, computed by the server. */
function isDiagnosticsResult(columns: readonly ColumnDefinition[]): boolean {
  const names = columns.filter((column) => column.orgTable === "").map((column) => column.name.toLowerCase());
  return names.includes("level") && names.includes("code") && names.includes("message");
}

export class MysqlResultMasker {
  /** What masking did to the running command's answer (the `mask` trace span); reset at begin(). */
  readonly tally: MaskTally;
  private readonly values: ValueMasker;
  private readonly rows: MysqlRowMasker;
  private readonly hasColumnRules: boolean;
  private readonly deprecateEof: boolean;
  private options: AnswerOptions = { binary: false, echoesDiagnostics: false };
  /** Sequence id shift of the packets sent so far in this answer (rewrites can add or drop packets). */
  private shift = 0;
  /** Column count packet and column definitions of the result set being described, held back. */
  private header: MysqlMessage[] = [];
  private columns: ColumnDefinition[] = [];
  private columnCount = 0;
  /** Set once the answer was withheld: everything after is dropped. */
  private withheld = false;
  /** Why the current answer was withheld (undefined while it was not): its operation_result says so. */
  withheldReason: string | undefined;

  constructor(
    private readonly profile: CompiledMaskingProfile,
    capabilities: number,
    private readonly onFailure: (reason: string) => void,
    /** Shared by the connection's sessions (its cache); one of its own otherwise. */
    private readonly analyze: (text: string, database: string) => MaskingFacts = createMaskedUseAnalyzer(
      profile.columns.keys(),
    ),
  ) {
    this.values = new ValueMasker(profile.detectors);
    this.tally = this.values.tally;
    this.rows = new MysqlRowMasker(profile, this.values);
    this.hasColumnRules = profile.columns.size > 0;
    this.deprecateEof = (capabilities & CAPABILITY.DEPRECATE_EOF) !== 0;
  }

  /** on_derived and strict rules for one text, before it is forwarded. */
  checkStatement(text: string, database: string): StatementCheck {
    if (!this.hasColumnRules) return { ok: true };
    const facts = this.analyze(text, database);
    if (!facts.ok) return { ok: false, reason: "the statement could not be analysed for masked columns" };
    for (const use of facts.uses) {
      if (use.place === "derived" && this.profile.onDerived === "deny")
        return {
          ok: false,
          reason: `masked column ${use.column} is used inside an expression, a derived table, a set operation or a copy`,
        };
      if (use.place === "predicate" && this.profile.strict)
        return { ok: false, reason: `masked column ${use.column} is used in a predicate or ordering` };
    }
    return { ok: true };
  }

  /** A command's answer begins. */
  begin(options: AnswerOptions): void {
    this.options = options;
    this.shift = 0;
    this.header = [];
    this.columns = [];
    this.withheld = false;
    this.withheldReason = undefined;
    this.tally.reset();
  }

  /** Error and warning text: detectors, and with column rules every quoted (echoed) value. */
  scrubText(text: string): string {
    const detected = this.values.detects ? (this.values.maskText(text, false) ?? text) : text;
    return this.hasColumnRules ? scrubQuotedValues(detected) : detected;
  }

  /** The bytes to send for one server packet of the running command (empty when held or dropped). */
  relay(message: MysqlMessage, kind: ResponsePacketKind): Buffer | undefined {
    if (this.withheld) return undefined;
    try {
      return this.dispatch(message, kind);
    } catch (error) {
      const reason = error instanceof MaskingFailure ? error.reason : "internal masking error";
      return this.withhold(reason, this.header[0] ?? message);
    }
  }

  private dispatch(message: MysqlMessage, kind: ResponsePacketKind): Buffer | undefined {
    switch (kind) {
      case "column-count": {
        const count = new PayloadCursor(message.payload, "column count").lenencInt();
        this.columnCount = count ?? 0;
        this.header = [message];
        this.columns = [];
        return undefined;
      }
      case "column": {
        this.header.push(message);
        this.columns.push(this.decodeColumn(message.payload));
        if (this.deprecateEof && this.columns.length === this.columnCount) return this.releaseHeader();
        return undefined;
      }
      case "columns-eof":
        this.header.push(message);
        return this.releaseHeader();
      case "row": {
        const payload = this.rows.maskRow(message.payload, this.options.binary, message.raw);
        const framed = this.rows.framed;
        if (framed === undefined || payload === message.payload) return this.send(message, payload);
        // Masked in a copy of the packet, lengths kept: one fragment in and out, so the shift stays.
        framed[3] = (message.sequenceId + this.shift) & 0xff;
        return framed;
      }
      case "err": {
        const err = decodeErr(message.payload);
        const scrubbed = this.scrubText(err.message);
        return this.send(
          message,
          scrubbed === err.message
            ? message.payload
            : encodeErr({ code: err.code, sqlState: err.sqlState, message: scrubbed }),
        );
      }
      default:
        return this.send(message, message.payload);
    }
  }

  private decodeColumn(payload: Buffer): ColumnDefinition {
    try {
      return decodeColumnDefinition(payload);
    } catch {
      throw new MaskingFailure("a column definition could not be read");
    }
  }

  private releaseHeader(): Buffer {
    // A prepared or EXECUTEd SHOW WARNINGS is known by its columns rather than its text.
    const scrubQuotes = this.options.echoesDiagnostics || isDiagnosticsResult(this.columns);
    this.rows.describe(this.columns, { scrubQuotes });
    const out = this.header.map((message) => this.send(message, message.payload));
    this.header = [];
    return Buffer.concat(out);
  }

  /** `message` with `payload` (the same one when untouched), renumbered after earlier rewrites. */
  private send(message: MysqlMessage, payload: Buffer): Buffer {
    if (payload === message.payload && this.shift === 0) return message.raw;
    const sequence = (message.sequenceId + this.shift) & 0xff;
    const fragmentsIn = ((message.lastSequenceId - message.sequenceId) & 0xff) + 1;
    const fragmentsOut = Math.floor(payload.length / MAX_PACKET_PAYLOAD) + 1;
    this.shift += fragmentsOut - fragmentsIn;
    return encodePacket(payload, sequence);
  }

  /** An ERR in place of `at` (the first held header packet, or the row that failed); the rest is dropped. */
  private withhold(reason: string, at: MysqlMessage): Buffer {
    this.withheld = true;
    this.withheldReason = reason;
    this.tally.noteWithheld();
    this.header = [];
    this.onFailure(reason);
    return errorPacket(new LatchError("result_withheld", { reason }), (at.sequenceId + this.shift) & 0xff);
  }
}

/** A masker for one session, or undefined when the profile masks nothing. */
export function createMysqlResultMasker(
  profile: CompiledMaskingProfile,
  capabilities: number,
  onFailure: (reason: string) => void,
  analyze?: (text: string, database: string) => MaskingFacts,
): MysqlResultMasker | undefined {
  return profile.active ? new MysqlResultMasker(profile, capabilities, onFailure, analyze) : undefined;
}
