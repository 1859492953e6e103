/**
 * Encodes client-side messages: what the gateway sends upstream (its own handshake, rewritten statements).
 * Encoders refuse what the decoders would refuse, so a message the gateway emits always reads back the same.
 * Messages without a body are built once and shared: callers must not modify the returned buffers.
 */
import { MAX_SECRET_KEY_BYTES, MIN_SECRET_KEY_BYTES } from "./decode-frontend.js";
import { buildMessage, MessageWriter, UnencodableValue } from "./message-writer.js";
import {
  CANCEL_REQUEST_CODE,
  type FrontendMessage,
  PROTOCOL_VERSION_3_0,
  SSL_REQUEST_CODE,
  type Target,
} from "./messages.js";

const Q = 0x51;
const P = 0x50;
const B = 0x42;
const D = 0x44;
const E = 0x45;
const C = 0x43;
const S = 0x53;
const H = 0x48;
const X = 0x58;
const d = 0x64;
const c = 0x63;
const f = 0x66;
const p = 0x70;

const SSL_REQUEST = buildMessage(undefined, (w) => w.int32(SSL_REQUEST_CODE));
const SYNC = buildMessage(S, () => {});
const FLUSH = buildMessage(H, () => {});
const TERMINATE = buildMessage(X, () => {});
const COPY_DONE = buildMessage(c, () => {});

export function encodeStartupMessage(
  params: Readonly<Record<string, string>>,
  protocolVersion = PROTOCOL_VERSION_3_0,
): Buffer {
  return buildMessage(undefined, (w) => {
    w.int32(protocolVersion);
    for (const [name, value] of Object.entries(params)) {
      // An empty name would end the list early and turn the rest into garbage.
      if (name === "") throw new UnencodableValue("startup parameter name is empty");
      w.cstring(name, "startup parameter name").cstring(value, `startup parameter "${name}"`);
    }
    w.uint8(0);
  });
}

export function encodeSSLRequest(): Buffer {
  return SSL_REQUEST;
}

export function encodeCancelRequest(processId: number, secretKey: Uint8Array): Buffer {
  checkSecretKey(secretKey);
  return buildMessage(undefined, (w) => w.int32(CANCEL_REQUEST_CODE).int32(processId).bytes(secretKey));
}

export function encodePasswordMessage(password: string): Buffer {
  return buildMessage(p, (w) => w.cstring(password, "password"));
}

export function encodeSASLInitialResponse(mechanism: string, data: Uint8Array): Buffer {
  return buildMessage(p, (w) => w.cstring(mechanism, "SASL mechanism").int32(data.length).bytes(data));
}

export function encodeSASLResponse(data: Uint8Array): Buffer {
  return buildMessage(p, (w) => w.bytes(data), data.length + 5);
}

export function encodeQuery(sql: string): Buffer {
  return buildMessage(Q, (w) => w.cstring(sql, "query text"), sql.length + 6);
}

export function encodeSync(): Buffer {
  return SYNC;
}

export function encodeFlush(): Buffer {
  return FLUSH;
}

export function encodeTerminate(): Buffer {
  return TERMINATE;
}

/** Encodes any frontend message the gateway may forward. Unknown and FunctionCall have no defined body. */
export function encodeFrontend(message: FrontendMessage): Buffer {
  switch (message.kind) {
    case "Query":
      return encodeQuery(message.sql);
    case "Parse":
      return buildMessage(P, (w) => {
        w.cstring(message.name, "statement name").cstring(message.sql, "query text");
        w.uint16(message.paramTypes.length);
        for (const oid of message.paramTypes) w.uint32(oid);
      });
    case "Bind":
      return encodeBind(message);
    case "Describe":
      return encodeTargetAndName(D, message.target, message.name);
    case "Execute":
      return buildMessage(E, (w) => w.cstring(message.portal, "portal name").int32(message.maxRows));
    case "Close":
      return encodeTargetAndName(C, message.target, message.name);
    case "Sync":
      return SYNC;
    case "Flush":
      return FLUSH;
    case "Terminate":
      return TERMINATE;
    case "CopyData":
      return buildMessage(d, (w) => w.bytes(message.data), message.data.length + 5);
    case "CopyDone":
      return COPY_DONE;
    case "CopyFail":
      return buildMessage(f, (w) => w.cstring(message.message, "CopyFail message"));
    case "PasswordMessage":
      return buildMessage(p, (w) => w.bytes(message.data), message.data.length + 5);
    case "FunctionCall":
    case "Unknown":
      throw new UnencodableValue(`${message.kind} messages cannot be re-encoded`);
  }
}

function encodeBind(message: Extract<FrontendMessage, { kind: "Bind" }>): Buffer {
  const { paramFormats, params, resultFormats } = message;
  if (paramFormats.length > 1 && paramFormats.length !== params.length) {
    throw new UnencodableValue(
      `${paramFormats.length} parameter format codes for ${params.length} parameters`,
    );
  }
  let size = 64;
  for (const param of params) size += 4 + (param?.length ?? 0);
  const writer = new MessageWriter(size + 2 * (paramFormats.length + resultFormats.length));
  writer.begin(B).cstring(message.portal, "portal name").cstring(message.statement, "statement name");
  writeFormatCodes(writer, paramFormats);
  writer.uint16(params.length);
  for (const param of params) {
    if (param === null) writer.int32(-1);
    else writer.int32(param.length).bytes(param);
  }
  writeFormatCodes(writer, resultFormats);
  return writer.end().finish();
}

function writeFormatCodes(writer: MessageWriter, codes: readonly number[]): void {
  writer.uint16(codes.length);
  for (const code of codes) {
    if (code !== 0 && code !== 1)
      throw new UnencodableValue(`format code ${code} is neither text nor binary`);
    writer.uint16(code);
  }
}

function encodeTargetAndName(type: number, target: Target, name: string): Buffer {
  if (target !== "S" && target !== "P") throw new UnencodableValue(`target ${String(target)} is not S or P`);
  return buildMessage(type, (w) =>
    w.uint8(target.charCodeAt(0)).cstring(name, target === "S" ? "statement name" : "portal name"),
  );
}

/** Shared with the backend encoder: BackendKeyData carries the same key as CancelRequest. */
export function checkSecretKey(secretKey: Uint8Array): void {
  if (secretKey.length < MIN_SECRET_KEY_BYTES || secretKey.length > MAX_SECRET_KEY_BYTES) {
    throw new UnencodableValue(
      `secret key of ${secretKey.length} bytes is outside ${MIN_SECRET_KEY_BYTES}..${MAX_SECRET_KEY_BYTES}`,
    );
  }
}
