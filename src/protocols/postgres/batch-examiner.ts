import { createHash } from "node:crypto";
import { LatchError } from "../../errors.js";
import type { OperationStep } from "../../operation/operation.js";
import type { ClassifiedStatement, StatementClassifier } from "../../sql/classification.js";
import type { FrontendMessage } from "./messages.js";
import type { BoundPortal, PreparedRegistry } from "./prepared-registry.js";

export type Examination =
  | {
      readonly ok: true;
      /** Statements that will execute, in order (empty for a batch that only parses or describes). */
      readonly steps: OperationStep[];
      /** Bound parameters per executed extended-protocol statement (previews, cut short for the record). */
      readonly parameters: (string | null)[][];
      /**
       * Hex SHA-256 of each full bound parameter, same shape as `parameters` (approval binding). Computed when
       * first read (see LazyDigests): only an approval binds them, and one digest is ~29k instructions.
       */
      readonly parameterDigests: (string | null)[][];
    }
  | { readonly ok: false; readonly error: LatchError };

const MAX_PARAMETER_PREVIEW = 256;
/**
 * On a masked connection the detectors read this much more than the preview keeps, so a card number or SSN
 * that straddles the cut is still whole when they look at it (its kept part is masked, not left in clear).
 */
const MASK_LOOKAHEAD = 64;

/** Masks one text parameter preview (the connection's content detectors); identity when it does not mask. */
export type ParameterPreviewMask = (text: string) => string;

/**
 * Values bound up to this many bytes in all are digested when first asked for (their Bind frame, a copy of
 * the client's bytes, is kept with the portal until then); a larger Bind is digested at once, so a portal
 * never holds more than this of its values beyond what the server holds.
 */
const LAZY_DIGEST_BYTES = 4096;

/** A portal's parameter digests, computed once, when first asked for (or at Bind for large values). */
class LazyDigests {
  private digests: readonly (string | null)[] | undefined;
  private values: readonly (Buffer | null)[] | undefined;

  constructor(
    values: readonly (Buffer | null)[],
    private readonly formats: readonly number[],
  ) {
    let bytes = 0;
    for (const value of values) bytes += value?.length ?? 0;
    this.values = values;
    if (bytes > LAZY_DIGEST_BYTES) this.get();
  }

  get(): readonly (string | null)[] {
    if (this.digests === undefined) {
      this.digests = this.values!.map((value, index) =>
        digestParameter(value, formatOf(this.formats, index)),
      );
      this.values = undefined;
    }
    return this.digests;
  }
}

/** A portal as this examiner binds it: the registry keeps it as is, digests included. */
interface DigestedPortal extends BoundPortal {
  readonly digests: LazyDigests;
}

/**
 * Turns one client batch (a Query, or extended-protocol messages up to Sync/Flush) into the statements it will
 * execute. Updates the registry as the server will (journaled: the caller commits or rolls back).
 */
export function examineBatch(
  messages: readonly FrontendMessage[],
  registry: PreparedRegistry,
  classifier: StatementClassifier,
  maskPreview?: ParameterPreviewMask,
): Examination {
  const steps: OperationStep[] = [];
  const parameters: (string | null)[][] = [];
  const digests: (LazyDigests | undefined)[] = [];
  for (const message of messages) {
    switch (message.kind) {
      case "Query": {
        const classified = classify(classifier, message.sql);
        if (!Array.isArray(classified)) return classified;
        const refused = applySqlLevelPrepared(classified, registry, steps);
        if (refused !== undefined) return refused;
        break;
      }
      case "Parse": {
        const classified = classify(classifier, message.sql);
        if (!Array.isArray(classified)) return classified;
        if (registry.nameTaken(message.name)) return nameInUse(message.name);
        registry.defineStatement(message.name, { sql: message.sql, statements: classified });
        break;
      }
      case "Bind": {
        const statement = registry.statement(message.statement);
        if (statement === undefined) return unknownName("prepared statement", message.statement);
        const portal: DigestedPortal = {
          statement,
          parameters: message.params.map((value, index) =>
            previewParameter(value, formatOf(message.paramFormats, index), maskPreview),
          ),
          digests: new LazyDigests(message.params, message.paramFormats),
        };
        registry.bindPortal(message.portal, portal);
        break;
      }
      case "Execute": {
        const portal = registry.portal(message.portal);
        if (portal === undefined) return unknownName("portal", message.portal);
        const refused = applySqlLevelPrepared(portal.statement.statements, registry, steps);
        if (refused !== undefined) return refused;
        parameters.push([...portal.parameters]);
        digests.push("digests" in portal ? (portal as DigestedPortal).digests : undefined);
        break;
      }
      case "Close":
        registry.close(message.target, message.name);
        break;
      default:
        break;
    }
  }
  let parameterDigests: (string | null)[][] | undefined;
  return {
    ok: true,
    steps,
    parameters,
    get parameterDigests() {
      parameterDigests ??= digests.map((lazy) => (lazy === undefined ? [] : [...lazy.get()]));
      return parameterDigests;
    },
  };
}

function classify(classifier: StatementClassifier, sql: string): ClassifiedStatement[] | Examination {
  const result = classifier.classify(sql);
  if (result.ok) return [...result.statements];
  const error =
    result.failure === "unparseable"
      ? new LatchError("statement_unparseable", { reason: result.reason })
      : new LatchError("statement_unsupported", { what: result.reason });
  return { ok: false, error };
}

/**
 * SQL-level PREPARE/EXECUTE/DEALLOCATE: EXECUTE is authorized as the statement it runs. Appends the batch's
 * steps to `steps` (no array per statement); a refusal is returned.
 */
function applySqlLevelPrepared(
  statements: readonly ClassifiedStatement[],
  registry: PreparedRegistry,
  steps: OperationStep[],
): Examination | undefined {
  for (const statement of statements) {
    if (statement.prepares !== undefined) {
      if (registry.nameTaken(statement.prepares.name)) return nameInUse(statement.prepares.name);
      registry.definePrepared(statement.prepares.name, statement.prepares.inner);
    }
    if (statement.deallocates !== undefined) registry.deallocate(statement.deallocates);
    if (statement.executes !== undefined) {
      const inner = registry.prepared(statement.executes);
      if (inner === undefined) return unknownName("SQL prepared statement", statement.executes);
      steps.push(statement.step, { ...inner.step, text: statement.text });
      continue;
    }
    steps.push(statement.step);
  }
  return undefined;
}

/**
 * PostgreSQL refuses to redefine a prepared statement name (42P05) and keeps the first statement: were Latch to
 * record the new text, it would authorize later Executes as something the server does not run.
 */
function nameInUse(name: string): Examination {
  return {
    ok: false,
    error: new LatchError("statement_denied", {
      reason: `prepared statement "${name.slice(0, 64)}" already exists in this session (or is being closed); use a new name, or Close it and wait for the result first`,
    }),
  };
}

function unknownName(what: string, name: string): Examination {
  return {
    ok: false,
    error: new LatchError("statement_denied", {
      reason: `${what} "${name.slice(0, 64)}" was not prepared through this gateway session`,
    }),
  };
}

function formatOf(formats: readonly number[], index: number): number {
  if (formats.length === 0) return 0;
  if (formats.length === 1) return formats[0]!;
  return formats[index] ?? 0;
}

function previewParameter(
  value: Buffer | null,
  format: number,
  maskPreview: ParameterPreviewMask | undefined,
): string | null {
  if (value === null) return null;
  // Binary values carry no type here (an int8 card number is just 8 bytes): the detectors cannot read them, so
  // a masked connection records only their size. The digest still binds approvals to the value.
  if (maskPreview !== undefined && format === 1) return `[binary value, ${value.length} bytes]`;
  if (maskPreview !== undefined) {
    // Masked before the cut (with a look-ahead): a value cut first could leave a detector too few digits.
    const masked = maskPreview(value.subarray(0, MAX_PARAMETER_PREVIEW + MASK_LOOKAHEAD).toString("utf8"));
    const cut = value.length > MAX_PARAMETER_PREVIEW || masked.length > MAX_PARAMETER_PREVIEW;
    return cut ? `${masked.slice(0, MAX_PARAMETER_PREVIEW)}…` : masked;
  }
  const slice = value.subarray(0, MAX_PARAMETER_PREVIEW);
  const suffix = value.length > MAX_PARAMETER_PREVIEW ? "…" : "";
  return format === 1 ? `\\x${slice.toString("hex")}${suffix}` : `${slice.toString("utf8")}${suffix}`;
}

/** The format code is hashed with the bytes: the same bytes in text and binary format are different values. */
function digestParameter(value: Buffer | null, format: number): string | null {
  if (value === null) return null;
  return createHash("sha256")
    .update(Buffer.of(format === 1 ? 1 : 0))
    .update(value)
    .digest("hex");
}
