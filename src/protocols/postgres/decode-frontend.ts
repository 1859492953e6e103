/**
 * Decodes what a PostgreSQL client sends: startup-phase packets and typed frontend messages.
 *
 * Pure and synchronous. Layouts and checks follow the server (postgres.c, pqformat.c): every read is bounded,
 * trailing bytes are refused as the server refuses them, and counts and codes are read as the server reads them
 * (unsigned 16-bit), so the gateway never inspects a message the server would understand differently.
 */
import { BodyReader } from "./frame-reader.js";
import {
  CANCEL_REQUEST_CODE,
  type Frame,
  type FrontendMessage,
  GSSENC_REQUEST_CODE,
  SSL_REQUEST_CODE,
  type StartupPhaseMessage,
  type Target,
} from "./messages.js";

/** Protocol 3.2 allows cancel keys up to 256 bytes; 3.0 uses exactly 4. */
export const MIN_SECRET_KEY_BYTES = 4;
export const MAX_SECRET_KEY_BYTES = 256;

const REQUEST_CODE_MAJOR = 1234; // SSLRequest, GSSENCRequest and CancelRequest use 1234.xxxx as a version
const FORMAT_TEXT = 0;
const FORMAT_BINARY = 1;

/** Decodes a packet read before the StartupMessage completed (FrameReader in startup mode). */
export function decodeStartupPhase(frame: Frame): StartupPhaseMessage {
  const reader = new BodyReader(frame.body, "startup packet");
  const code = reader.int32();
  switch (code) {
    case SSL_REQUEST_CODE:
      reader.end();
      return { kind: "SSLRequest" };
    case GSSENC_REQUEST_CODE:
      reader.end();
      return { kind: "GSSENCRequest" };
    case CANCEL_REQUEST_CODE:
      return decodeCancelRequest(new BodyReader(frame.body.subarray(4), "CancelRequest"));
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major === REQUEST_CODE_MAJOR) reader.violate(`unknown request code ${major}.${minor}`);
  if (major !== 3) reader.violate(`unsupported protocol version ${major}.${minor}`);
  return { kind: "StartupMessage", protocolVersion: code, parameters: decodeStartupParameters(frame.body) };
}

function decodeCancelRequest(reader: BodyReader): StartupPhaseMessage {
  const processId = reader.int32();
  const keyBytes = reader.remaining;
  if (keyBytes < MIN_SECRET_KEY_BYTES || keyBytes > MAX_SECRET_KEY_BYTES) {
    reader.violate(
      `secret key of ${keyBytes} bytes is outside ${MIN_SECRET_KEY_BYTES}..${MAX_SECRET_KEY_BYTES}`,
    );
  }
  // Copied: the front keeps the key past the frame's lifetime to match it against a session.
  return { kind: "CancelRequest", processId, secretKey: Buffer.from(reader.rest()) };
}

function decodeStartupParameters(body: Buffer): ReadonlyMap<string, string> {
  const reader = new BodyReader(body.subarray(4), "StartupMessage");
  const parameters = new Map<string, string>();
  for (;;) {
    const name = reader.cstring("parameter name");
    if (name === "") break; // the empty name terminates the list
    const value = reader.cstring(`value of parameter "${name}"`);
    if (parameters.has(name)) reader.violate(`parameter "${name}" appears twice`);
    parameters.set(name, value);
  }
  reader.end();
  return parameters;
}

type BodyDecoder = (reader: BodyReader) => FrontendMessage;

interface FrontendEntry {
  readonly name: string;
  readonly decode: BodyDecoder;
}

const SYNC: FrontendMessage = { kind: "Sync" };
const FLUSH: FrontendMessage = { kind: "Flush" };
const TERMINATE: FrontendMessage = { kind: "Terminate" };
const COPY_DONE: FrontendMessage = { kind: "CopyDone" };
const FUNCTION_CALL: FrontendMessage = { kind: "FunctionCall" };

/** Messages without a body: refuse any, as the server does, and return a shared value. */
function empty(message: FrontendMessage): BodyDecoder {
  return (reader) => {
    reader.end();
    return message;
  };
}

/** One entry per type byte the gateway understands; any other byte decodes as Unknown. */
const FRONTEND_MESSAGES: Readonly<Record<string, FrontendEntry>> = {
  Q: { name: "Query", decode: decodeQuery },
  P: { name: "Parse", decode: decodeParse },
  B: { name: "Bind", decode: decodeBind },
  D: { name: "Describe", decode: (reader) => ({ kind: "Describe", ...decodeTargetAndName(reader) }) },
  E: { name: "Execute", decode: decodeExecute },
  C: { name: "Close", decode: (reader) => ({ kind: "Close", ...decodeTargetAndName(reader) }) },
  S: { name: "Sync", decode: empty(SYNC) },
  H: { name: "Flush", decode: empty(FLUSH) },
  X: { name: "Terminate", decode: empty(TERMINATE) },
  // CopyData is streamed: its data stays a subarray of the frame (no copy), like Bind parameters.
  d: { name: "CopyData", decode: (reader) => ({ kind: "CopyData", data: reader.rest() }) },
  c: { name: "CopyDone", decode: empty(COPY_DONE) },
  f: { name: "CopyFail", decode: decodeCopyFail },
  // Not parsed: the gateway refuses FunctionCall outright, whatever it contains.
  F: { name: "FunctionCall", decode: () => FUNCTION_CALL },
  // Copied: the front keeps the password (a token) while it validates it asynchronously.
  p: {
    name: "PasswordMessage",
    decode: (reader) => ({ kind: "PasswordMessage", data: Buffer.from(reader.rest()) }),
  },
};

const FRONTEND_BY_TYPE: readonly (FrontendEntry | undefined)[] = Array.from({ length: 256 }, (_, type) =>
  Object.hasOwn(FRONTEND_MESSAGES, String.fromCharCode(type))
    ? FRONTEND_MESSAGES[String.fromCharCode(type)]
    : undefined,
);

/** Decodes a typed frame from the client. Unknown type bytes decode as `Unknown` for the caller to refuse. */
export function decodeFrontend(frame: Frame): FrontendMessage {
  const entry = FRONTEND_BY_TYPE[frame.type];
  if (entry === undefined) return { kind: "Unknown", type: frame.type };
  return entry.decode(new BodyReader(frame.body, entry.name));
}

function decodeQuery(reader: BodyReader): FrontendMessage {
  const sql = reader.cstring("query text");
  reader.end();
  return { kind: "Query", sql };
}

function decodeParse(reader: BodyReader): FrontendMessage {
  const name = reader.cstring("statement name");
  const sql = reader.cstring("query text");
  const count = reader.uint16();
  if (count * 4 > reader.remaining) {
    reader.violate(`${count} parameter types declared but only ${reader.remaining} bytes remain`);
  }
  const paramTypes: number[] = new Array(count);
  for (let i = 0; i < count; i++) paramTypes[i] = reader.uint32();
  reader.end();
  return { kind: "Parse", name, sql, paramTypes };
}

function decodeBind(reader: BodyReader): FrontendMessage {
  const portal = reader.cstring("portal name");
  const statement = reader.cstring("statement name");
  const paramFormats = readFormatCodes(reader, "parameter");
  const paramCount = reader.uint16();
  if (paramFormats.length > 1 && paramFormats.length !== paramCount) {
    reader.violate(`${paramFormats.length} parameter format codes for ${paramCount} parameters`);
  }
  if (paramCount * 4 > reader.remaining) {
    reader.violate(`${paramCount} parameters declared but only ${reader.remaining} bytes remain`);
  }
  const params: (Buffer | null)[] = new Array(paramCount);
  for (let i = 0; i < paramCount; i++) {
    const length = reader.int32();
    if (length === -1) {
      params[i] = null;
    } else if (length < 0) {
      reader.violate(`parameter ${i + 1} has invalid length ${length}`);
    } else if (length > reader.remaining) {
      reader.violate(`parameter ${i + 1} claims ${length} bytes but only ${reader.remaining} remain`);
    } else {
      params[i] = reader.bytes(length);
    }
  }
  const resultFormats = readFormatCodes(reader, "result");
  reader.end();
  return { kind: "Bind", portal, statement, paramFormats, params, resultFormats };
}

function readFormatCodes(reader: BodyReader, what: string): number[] {
  const count = reader.uint16();
  if (count * 2 > reader.remaining) {
    reader.violate(`${count} ${what} format codes declared but only ${reader.remaining} bytes remain`);
  }
  const codes: number[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const code = reader.uint16();
    if (code !== FORMAT_TEXT && code !== FORMAT_BINARY)
      reader.violate(`unsupported ${what} format code ${code}`);
    codes[i] = code;
  }
  return codes;
}

function decodeTargetAndName(reader: BodyReader): { target: Target; name: string } {
  const target = reader.uint8();
  if (target !== 0x53 && target !== 0x50) {
    reader.violate(`target must be 'S' or 'P', got byte ${target}`);
  }
  const name = reader.cstring(target === 0x53 ? "statement name" : "portal name");
  reader.end();
  return { target: target === 0x53 ? "S" : "P", name };
}

function decodeExecute(reader: BodyReader): FrontendMessage {
  const portal = reader.cstring("portal name");
  const maxRows = reader.int32(); // the server treats <= 0 as "all rows"
  reader.end();
  return { kind: "Execute", portal, maxRows };
}

function decodeCopyFail(reader: BodyReader): FrontendMessage {
  const message = reader.cstring("error message");
  reader.end();
  return { kind: "CopyFail", message };
}
