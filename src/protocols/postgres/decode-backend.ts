/**
 * Decodes what the upstream PostgreSQL server sends, for the messages the gateway reads (its own handshake and
 * result bookkeeping). Everything else is `Other` and passes through untouched.
 *
 * The upstream is treated as hostile too: every read is bounded and handshake values the gateway keeps
 * (salt, SASL data, cancel key) are copied out of the frame.
 */
import { MAX_SECRET_KEY_BYTES, MIN_SECRET_KEY_BYTES } from "./decode-frontend.js";
import { BodyReader } from "./frame-reader.js";
import type { BackendMessage, ErrorFields, Frame } from "./messages.js";

export const AUTH_OK = 0;
export const AUTH_CLEARTEXT_PASSWORD = 3;
export const AUTH_MD5_PASSWORD = 5;
export const AUTH_SASL = 10;
export const AUTH_SASL_CONTINUE = 11;
export const AUTH_SASL_FINAL = 12;

const MD5_SALT_BYTES = 4;

type BodyDecoder = (reader: BodyReader) => BackendMessage;

interface BackendEntry {
  readonly name: string;
  readonly decode: BodyDecoder;
}

const AUTHENTICATION_OK: BackendMessage = { kind: "AuthenticationOk" };
const AUTHENTICATION_CLEARTEXT: BackendMessage = { kind: "AuthenticationCleartextPassword" };

/** One entry per type byte the gateway reads; any other byte decodes as Other. */
const BACKEND_MESSAGES: Readonly<Record<string, BackendEntry>> = {
  R: { name: "Authentication", decode: decodeAuthentication },
  S: { name: "ParameterStatus", decode: decodeParameterStatus },
  K: { name: "BackendKeyData", decode: decodeBackendKeyData },
  Z: { name: "ReadyForQuery", decode: decodeReadyForQuery },
  E: {
    name: "ErrorResponse",
    decode: (reader) => ({ kind: "ErrorResponse", fields: readFields(reader, "ERROR") }),
  },
  N: {
    name: "NoticeResponse",
    decode: (reader) => ({ kind: "NoticeResponse", fields: readFields(reader, "NOTICE") }),
  },
  C: { name: "CommandComplete", decode: decodeCommandComplete },
  v: { name: "NegotiateProtocolVersion", decode: decodeNegotiateProtocolVersion },
};

const BACKEND_BY_TYPE: readonly (BackendEntry | undefined)[] = Array.from({ length: 256 }, (_, type) =>
  Object.hasOwn(BACKEND_MESSAGES, String.fromCharCode(type))
    ? BACKEND_MESSAGES[String.fromCharCode(type)]
    : undefined,
);

/** Decodes a typed frame from the server. */
export function decodeBackend(frame: Frame): BackendMessage {
  const entry = BACKEND_BY_TYPE[frame.type];
  if (entry === undefined) return { kind: "Other", type: frame.type };
  return entry.decode(new BodyReader(frame.body, entry.name));
}

function decodeAuthentication(reader: BodyReader): BackendMessage {
  const method = reader.int32();
  switch (method) {
    case AUTH_OK:
      reader.end();
      return AUTHENTICATION_OK;
    case AUTH_CLEARTEXT_PASSWORD:
      reader.end();
      return AUTHENTICATION_CLEARTEXT;
    case AUTH_MD5_PASSWORD: {
      const salt = Buffer.from(reader.bytes(MD5_SALT_BYTES));
      reader.end();
      return { kind: "AuthenticationMD5Password", salt };
    }
    case AUTH_SASL:
      return { kind: "AuthenticationSASL", mechanisms: readSaslMechanisms(reader) };
    case AUTH_SASL_CONTINUE:
      return { kind: "AuthenticationSASLContinue", data: Buffer.from(reader.rest()) };
    case AUTH_SASL_FINAL:
      return { kind: "AuthenticationSASLFinal", data: Buffer.from(reader.rest()) };
    default:
      // GSS, SSPI, Kerberos...: the body is method-specific and the gateway does not speak them.
      return { kind: "AuthenticationUnsupported", method };
  }
}

function readSaslMechanisms(reader: BodyReader): string[] {
  const mechanisms: string[] = [];
  for (;;) {
    const mechanism = reader.cstring("SASL mechanism name");
    if (mechanism === "") break; // the empty name terminates the list
    mechanisms.push(mechanism);
  }
  reader.end();
  return mechanisms;
}

function decodeParameterStatus(reader: BodyReader): BackendMessage {
  const name = reader.cstring("parameter name");
  const value = reader.cstring(`value of parameter "${name}"`);
  reader.end();
  return { kind: "ParameterStatus", name, value };
}

function decodeBackendKeyData(reader: BodyReader): BackendMessage {
  const processId = reader.int32();
  const keyBytes = reader.remaining;
  if (keyBytes < MIN_SECRET_KEY_BYTES || keyBytes > MAX_SECRET_KEY_BYTES) {
    reader.violate(
      `secret key of ${keyBytes} bytes is outside ${MIN_SECRET_KEY_BYTES}..${MAX_SECRET_KEY_BYTES}`,
    );
  }
  return { kind: "BackendKeyData", processId, secretKey: Buffer.from(reader.rest()) };
}

const READY_FOR_QUERY: Readonly<Record<string, BackendMessage>> = {
  I: { kind: "ReadyForQuery", status: "I" },
  T: { kind: "ReadyForQuery", status: "T" },
  E: { kind: "ReadyForQuery", status: "E" },
};

function decodeReadyForQuery(reader: BodyReader): BackendMessage {
  const status = String.fromCharCode(reader.uint8());
  reader.end();
  const message = Object.hasOwn(READY_FOR_QUERY, status) ? READY_FOR_QUERY[status] : undefined;
  if (message === undefined) reader.violate(`unknown transaction status ${JSON.stringify(status)}`);
  return message;
}

const SEVERITIES: ReadonlySet<string> = new Set<ErrorFields["severity"]>([
  "ERROR",
  "FATAL",
  "PANIC",
  "WARNING",
  "NOTICE",
  "DEBUG",
  "INFO",
  "LOG",
]);

/**
 * Reads error/notice fields. Values are decoded leniently: they are only displayed and logged, and before the
 * handshake completes the server may still send them in its own encoding rather than UTF-8.
 */
function readFields(reader: BodyReader, fallbackSeverity: ErrorFields["severity"]): ErrorFields {
  const byCode = new Map<number, string>();
  for (;;) {
    const code = reader.uint8();
    if (code === 0) break;
    byCode.set(code, reader.displayCstring(`field ${String.fromCharCode(code)}`));
  }
  reader.end();
  const code = byCode.get(0x43); // C
  const message = byCode.get(0x4d); // M
  if (code === undefined) reader.violate("missing the SQLSTATE field (C)");
  if (message === undefined) reader.violate("missing the message field (M)");
  return {
    severity: readSeverity(byCode, fallbackSeverity),
    code,
    message,
    ...optional("detail", byCode.get(0x44)), // D
    ...optional("hint", byCode.get(0x48)), // H
  };
}

/** V is never localized (PostgreSQL 9.6+); S may be translated, so it is only a fallback. */
function readSeverity(
  byCode: ReadonlyMap<number, string>,
  fallback: ErrorFields["severity"],
): ErrorFields["severity"] {
  for (const candidate of [byCode.get(0x56), byCode.get(0x53)]) {
    if (candidate !== undefined && SEVERITIES.has(candidate)) return candidate as ErrorFields["severity"];
  }
  return fallback;
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

function decodeCommandComplete(reader: BodyReader): BackendMessage {
  const tag = reader.cstring("command tag");
  reader.end();
  return { kind: "CommandComplete", tag };
}

function decodeNegotiateProtocolVersion(reader: BodyReader): BackendMessage {
  const newestMinor = reader.int32();
  const count = reader.int32();
  // Each option name takes at least its NUL: a count above the bytes left is a lie, refused before looping.
  if (count < 0 || count > reader.remaining) reader.violate(`invalid option count ${count}`);
  const unrecognized: string[] = [];
  for (let i = 0; i < count; i++) unrecognized.push(reader.cstring("option name"));
  reader.end();
  return { kind: "NegotiateProtocolVersion", newestMinor, unrecognized };
}

/** Matches the tags whose trailing number is a row count ("INSERT oid rows" has the count last). */
const ROW_COUNT_TAG = /^(?:SELECT|INSERT \d+|UPDATE|DELETE|MERGE|FETCH|MOVE|COPY) (\d+)$/;

/** Rows affected or returned according to a CommandComplete tag; undefined for tags without a count. */
export function readCommandTagRows(tag: string): number | undefined {
  const match = ROW_COUNT_TAG.exec(tag);
  return match ? Number(match[1]) : undefined;
}
