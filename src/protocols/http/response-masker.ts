import { promisify } from "node:util";
import zlib from "node:zlib";
import type { LatchConfig } from "../../config/schema.js";
import { LatchError } from "../../errors.js";
import { createJsonMasker, type JsonMasker, type JsonValue } from "../../masking/json-masker.js";
import type { MaskTally } from "../../masking/mask-tally.js";
import { MaskingFailure } from "../../masking/masking-failure.js";
import { compileMaskingProfiles } from "../../masking/masking-profile.js";
import { createStrategy, type MaskingStrategy } from "../../masking/strategies.js";
import { ValueMasker } from "../../masking/value-masker.js";

type Plan = "json" | "text" | "pass" | "withhold";

/**
 * The HTTP payload adapter of the masking core (docs/http.md, "Masking"): which responses are masked and how.
 * JSON bodies go through the JSON masker (content detectors and the connection's mask_fields pointers), text/*
 * through the text masker; compressed bodies are decoded first; anything else passes only when its type is in
 * unmasked_types. What cannot be masked is withheld (MaskingFailure), never sent in clear.
 */
export interface ConnectionMasking {
  readonly active: boolean;
  /** How a response of this content type (and encoding) is treated. */
  planFor(contentType: string | undefined): Plan;
  /**
   * The masked body (identity-encoded); throws MaskingFailure. With a `tally` (tracing on) the body counts as
   * one row of the values masked in it (docs/audit.md, "Traces").
   */
  mask(plan: "json" | "text", body: Buffer, encoding: string | undefined, tally?: MaskTally): Promise<Buffer>;
  /** `mask` of a body without content coding (encoding undefined or identity), in this call; throws MaskingFailure. */
  maskNow(plan: "json" | "text", body: Buffer, encoding: "identity" | undefined, tally?: MaskTally): Buffer;
  /** Masks a preview for the record (content detectors only). */
  maskPreview(text: string): string;
}

const decoders: Readonly<Record<string, (body: Buffer) => Promise<Buffer>>> = {
  gzip: promisify(zlib.gunzip),
  "x-gzip": promisify(zlib.gunzip),
  deflate: promisify(zlib.inflate),
  br: promisify(zlib.brotliDecompress),
};

/** `/customers/*\/ssn` as the JSON masker's dotted path (`customers.ssn`): array elements take their array's path. */
export function pointerToFieldPath(pointer: string, where: string): string {
  const segments = pointer
    .split("/")
    .slice(1)
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
  const keys = segments.filter((s) => s !== "*" && !/^\d+$/.test(s));
  if (keys.length === 0 || keys.some((k) => k.includes(".") || k === ""))
    throw new LatchError("config_invalid", {
      detail: `${where}: "${pointer}" must name keys (no dots in them); * or an index stands for any array element`,
    });
  return keys.join(".");
}

export function compileConnectionMasking(
  name: string,
  connection: {
    masking: readonly string[];
    mask_fields: readonly string[];
    unmasked_types: readonly string[];
  },
  profiles: LatchConfig["masking"],
): ConnectionMasking {
  const compiled = compileMaskingProfiles(connection.masking, profiles);
  const redact: MaskingStrategy = createStrategy({ strategy: "redact", keepLast: 0 });
  const fields = new Map<string, MaskingStrategy>(
    connection.mask_fields.map((pointer) => [
      pointerToFieldPath(pointer, `connections.${name}.mask_fields`),
      redact,
    ]),
  );
  const json: JsonMasker = createJsonMasker({ detectors: compiled.detectors, fields });
  // Text has no columns: only detectors apply, and a `null` strategy redacts (text cannot become null).
  const text = compiled.detectors.length === 0 ? undefined : new ValueMasker(compiled.detectors);
  const maskText = (value: string, tally?: MaskTally) =>
    text === undefined ? value : (text.maskTextTallied(value, false, tally) ?? value);
  const active = json.active;
  const passes = (type: string) =>
    connection.unmasked_types.some((allowed) =>
      allowed.endsWith("/*") ? type.startsWith(allowed.slice(0, -1)) : type === allowed,
    );
  const planOf = (contentType: string | undefined): Plan => {
    const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
    if (type === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(type)) return "json";
    if (type.startsWith("text/")) return "text";
    if (type !== "" && passes(type)) return "pass";
    return "withhold";
  };
  // The plan is a function of the Content-Type alone, asked twice per response (which body to read whole, then
  // what to do with it) and nearly always of the same value as the response before.
  let lastType: string | undefined;
  let lastPlan: Plan | undefined;
  const maskDecoded = (
    plan: "json" | "text",
    body: Buffer,
    decoded: Buffer,
    encoding: string | undefined,
    tally: MaskTally | undefined,
  ): Buffer => {
    if (plan === "text")
      return text === undefined ? decoded : Buffer.from(maskText(decoded.toString("utf8"), tally));
    let value: JsonValue;
    try {
      value = JSON.parse(decoded.toString("utf8")) as JsonValue;
    } catch {
      throw new MaskingFailure("the body is not valid JSON");
    }
    const masked = json.mask(value, tally);
    return masked === value && encoding === undefined ? body : Buffer.from(JSON.stringify(masked));
  };
  return {
    active,
    planFor(contentType) {
      if (!active) return "pass";
      if (lastPlan !== undefined && contentType === lastType) return lastPlan;
      const plan = planOf(contentType);
      lastType = contentType;
      lastPlan = plan;
      return plan;
    },
    mask(plan, body, encoding, tally) {
      // A body with no content coding needs no decoder: masked in this call, no decode promise and await.
      if (encoding === undefined || encoding === "identity") {
        try {
          return Promise.resolve(maskDecoded(plan, body, body, encoding, tally));
        } catch (error) {
          return Promise.reject(error);
        }
      }
      return decode(body, encoding).then((decoded) => maskDecoded(plan, body, decoded, encoding, tally));
    },
    maskNow: (plan, body, encoding, tally) => maskDecoded(plan, body, body, encoding, tally),
    maskPreview: (preview) => maskText(preview),
  };
}

async function decode(body: Buffer, encoding: string | undefined): Promise<Buffer> {
  if (encoding === undefined || encoding === "identity") return body;
  const decoder = Object.hasOwn(decoders, encoding) ? decoders[encoding] : undefined;
  if (decoder === undefined)
    throw new MaskingFailure(`content-encoding ${encoding.slice(0, 30)} cannot be decoded`);
  try {
    return await decoder(body);
  } catch {
    throw new MaskingFailure(`the ${encoding} body could not be decoded`);
  }
}
