/**
 * Encodes server-side messages: what the gateway itself answers a client (handshake, in-protocol denials,
 * simple gateway answers). Messages without a body are built once and shared: callers must not modify them.
 */
import { checkSecretKey } from "./encode-frontend.js";
import { buildMessage, type MessageWriter, UnencodableValue } from "./message-writer.js";
import type { ErrorFields, TransactionStatus } from "./messages.js";

const R = 0x52;
const S = 0x53;
const K = 0x4b;
const Z = 0x5a;
const E = 0x45;
const N = 0x4e;
const v = 0x76;
const C = 0x43;
const I = 0x49;
const T = 0x54;
const D = 0x44;

const TEXT_OID = 25;

const AUTHENTICATION_OK = buildMessage(R, (w) => w.int32(0));
const AUTHENTICATION_CLEARTEXT_PASSWORD = buildMessage(R, (w) => w.int32(3));
const EMPTY_QUERY_RESPONSE = buildMessage(I, () => {});
const READY_FOR_QUERY: Readonly<Record<TransactionStatus, Buffer>> = {
  I: buildMessage(Z, (w) => w.uint8(I)),
  T: buildMessage(Z, (w) => w.uint8(T)),
  E: buildMessage(Z, (w) => w.uint8(E)),
};

export function encodeAuthenticationOk(): Buffer {
  return AUTHENTICATION_OK;
}

export function encodeAuthenticationCleartextPassword(): Buffer {
  return AUTHENTICATION_CLEARTEXT_PASSWORD;
}

export function encodeParameterStatus(name: string, value: string): Buffer {
  return buildMessage(S, (w) => w.cstring(name, "parameter name").cstring(value, `parameter "${name}"`));
}

export function encodeBackendKeyData(processId: number, secretKey: Uint8Array): Buffer {
  checkSecretKey(secretKey);
  return buildMessage(K, (w) => w.int32(processId).bytes(secretKey));
}

export function encodeReadyForQuery(status: TransactionStatus): Buffer {
  const message = Object.hasOwn(READY_FOR_QUERY, status) ? READY_FOR_QUERY[status] : undefined;
  if (message === undefined) throw new UnencodableValue(`unknown transaction status ${String(status)}`);
  return message;
}

/** ErrorResponse with S and V (both the severity), C, M, and D and H when present. */
export function encodeErrorResponse(fields: ErrorFields): Buffer {
  return buildMessage(E, (w) => writeFields(w, fields));
}

export function encodeNoticeResponse(fields: ErrorFields): Buffer {
  return buildMessage(N, (w) => writeFields(w, fields));
}

function writeFields(w: MessageWriter, fields: ErrorFields): void {
  field(w, 0x53, fields.severity, "severity"); // S
  field(w, 0x56, fields.severity, "severity"); // V
  field(w, 0x43, fields.code, "SQLSTATE"); // C
  field(w, 0x4d, fields.message, "message"); // M
  if (fields.detail !== undefined) field(w, 0x44, fields.detail, "detail"); // D
  if (fields.hint !== undefined) field(w, 0x48, fields.hint, "hint"); // H
  w.uint8(0);
}

function field(w: MessageWriter, code: number, value: string, what: string): void {
  w.uint8(code).cstring(value, `error field ${what}`);
}

export function encodeNegotiateProtocolVersion(newestMinor: number, unrecognized: readonly string[]): Buffer {
  return buildMessage(v, (w) => {
    w.int32(newestMinor).int32(unrecognized.length);
    for (const option of unrecognized) w.cstring(option, "option name");
  });
}

export function encodeCommandComplete(tag: string): Buffer {
  return buildMessage(C, (w) => w.cstring(tag, "command tag"));
}

export function encodeEmptyQueryResponse(): Buffer {
  return EMPTY_QUERY_RESPONSE;
}

/** RowDescription for text columns (type text, text format), for gateway-built answers. */
export function encodeRowDescription(columns: readonly string[]): Buffer {
  return buildMessage(T, (w) => {
    w.uint16(columns.length);
    for (const column of columns) {
      w.cstring(column, "column name");
      w.uint32(0); // table OID: not a table column
      w.int16(0); // attribute number
      w.uint32(TEXT_OID);
      w.int16(-1); // variable length
      w.int32(-1); // no type modifier
      w.int16(0); // text format
    }
  });
}

/** DataRow of text values; null is SQL NULL. Values may contain any character: they are length-prefixed. */
export function encodeDataRow(values: readonly (string | null)[]): Buffer {
  return buildMessage(D, (w) => {
    w.uint16(values.length);
    for (const value of values) {
      if (value === null) {
        w.int32(-1);
      } else {
        const bytes = Buffer.from(value, "utf8");
        w.int32(bytes.length).bytes(bytes);
      }
    }
  });
}
