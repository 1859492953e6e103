/** Type bytes of the messages the session relay acts on, named as in the protocol documentation. */
export const FRONTEND = {
  Query: 0x51,
  Parse: 0x50,
  Bind: 0x42,
  Describe: 0x44,
  Execute: 0x45,
  Close: 0x43,
  Sync: 0x53,
  Flush: 0x48,
  Terminate: 0x58,
  CopyData: 0x64,
  CopyDone: 0x63,
  CopyFail: 0x66,
} as const;

export const BACKEND = {
  ReadyForQuery: 0x5a,
  CommandComplete: 0x43,
  DataRow: 0x44,
  ErrorResponse: 0x45,
  ParameterStatus: 0x53,
  CopyInResponse: 0x47,
  CopyBothResponse: 0x57,
  RowDescription: 0x54,
  NoData: 0x6e,
} as const;

/** The transaction status byte of a ReadyForQuery body. */
export function readyStatus(body: Buffer): "I" | "T" | "E" {
  return body[0] === 0x45 ? "E" : body[0] === 0x54 ? "T" : "I";
}
