/**
 * PostgreSQL v3 wire messages as typed values. Names follow the protocol documentation
 * (https://www.postgresql.org/docs/current/protocol-message-formats.html); `kind` is a literal so unions narrow.
 */

export const PROTOCOL_VERSION_3_0 = 196608; // 3 << 16
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** Messages a client may send before it has a type byte (length-prefixed only). */
export type StartupPhaseMessage =
  | { readonly kind: "SSLRequest" }
  | { readonly kind: "GSSENCRequest" }
  | { readonly kind: "CancelRequest"; readonly processId: number; readonly secretKey: Buffer }
  | {
      readonly kind: "StartupMessage";
      readonly protocolVersion: number;
      /** Parameters in arrival order; duplicates are a protocol violation reported by the decoder. */
      readonly parameters: ReadonlyMap<string, string>;
    };

export type Target = "S" | "P"; // statement or portal

/** Typed messages from the client after startup. */
export type FrontendMessage =
  | { readonly kind: "Query"; readonly sql: string }
  | {
      readonly kind: "Parse";
      readonly name: string;
      readonly sql: string;
      readonly paramTypes: readonly number[];
    }
  | {
      readonly kind: "Bind";
      readonly portal: string;
      readonly statement: string;
      readonly paramFormats: readonly number[];
      /** null = SQL NULL. Subarrays of the frame: copy before keeping past the frame's lifetime. */
      readonly params: readonly (Buffer | null)[];
      readonly resultFormats: readonly number[];
    }
  | { readonly kind: "Describe"; readonly target: Target; readonly name: string }
  | { readonly kind: "Execute"; readonly portal: string; readonly maxRows: number }
  | { readonly kind: "Close"; readonly target: Target; readonly name: string }
  | { readonly kind: "Sync" }
  | { readonly kind: "Flush" }
  | { readonly kind: "Terminate" }
  | { readonly kind: "CopyData"; readonly data: Buffer }
  | { readonly kind: "CopyDone" }
  | { readonly kind: "CopyFail"; readonly message: string }
  | { readonly kind: "FunctionCall" }
  /** 'p': PasswordMessage / SASLInitialResponse / SASLResponse; meaning depends on the auth state. */
  | { readonly kind: "PasswordMessage"; readonly data: Buffer }
  | { readonly kind: "Unknown"; readonly type: number };

/** A complete frame cut from the stream: the type byte (0 for startup-phase frames) and the body. */
export interface Frame {
  readonly type: number;
  /** Body without type byte and length. A subarray of the reader's buffer: valid until the next push(). */
  readonly body: Buffer;
  /** The whole frame (type byte, length, body) exactly as received, for forwarding untouched. */
  readonly raw: Buffer;
}

/** Error/notice fields by their protocol field codes. */
export interface ErrorFields {
  readonly severity: "ERROR" | "FATAL" | "PANIC" | "WARNING" | "NOTICE" | "DEBUG" | "INFO" | "LOG";
  readonly code: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
}

export type TransactionStatus = "I" | "T" | "E";

/** Backend messages the gateway reads (upstream handshake and result bookkeeping). */
export type BackendMessage =
  | { readonly kind: "AuthenticationOk" }
  | { readonly kind: "AuthenticationCleartextPassword" }
  | { readonly kind: "AuthenticationMD5Password"; readonly salt: Buffer }
  | { readonly kind: "AuthenticationSASL"; readonly mechanisms: readonly string[] }
  | { readonly kind: "AuthenticationSASLContinue"; readonly data: Buffer }
  | { readonly kind: "AuthenticationSASLFinal"; readonly data: Buffer }
  | { readonly kind: "AuthenticationUnsupported"; readonly method: number }
  | { readonly kind: "ParameterStatus"; readonly name: string; readonly value: string }
  | { readonly kind: "BackendKeyData"; readonly processId: number; readonly secretKey: Buffer }
  | { readonly kind: "ReadyForQuery"; readonly status: TransactionStatus }
  | { readonly kind: "ErrorResponse"; readonly fields: ErrorFields }
  | { readonly kind: "NoticeResponse"; readonly fields: ErrorFields }
  | { readonly kind: "CommandComplete"; readonly tag: string }
  | {
      readonly kind: "NegotiateProtocolVersion";
      readonly newestMinor: number;
      readonly unrecognized: readonly string[];
    }
  | { readonly kind: "Other"; readonly type: number };
