/**
 * Command bytes (the first payload byte of a client packet in the command phase) and what the gateway does with
 * each. One table, with an explicit entry for everything the gateway will not relay; bytes not listed are
 * unknown and refused the same way.
 */
export const COMMAND = {
  COM_SLEEP: 0x00,
  COM_QUIT: 0x01,
  COM_INIT_DB: 0x02,
  COM_QUERY: 0x03,
  COM_FIELD_LIST: 0x04,
  COM_CREATE_DB: 0x05,
  COM_DROP_DB: 0x06,
  COM_REFRESH: 0x07,
  COM_SHUTDOWN: 0x08,
  COM_STATISTICS: 0x09,
  COM_PROCESS_INFO: 0x0a,
  COM_CONNECT: 0x0b,
  COM_PROCESS_KILL: 0x0c,
  COM_DEBUG: 0x0d,
  COM_PING: 0x0e,
  COM_TIME: 0x0f,
  COM_DELAYED_INSERT: 0x10,
  COM_CHANGE_USER: 0x11,
  COM_BINLOG_DUMP: 0x12,
  COM_TABLE_DUMP: 0x13,
  COM_CONNECT_OUT: 0x14,
  COM_REGISTER_SLAVE: 0x15,
  COM_STMT_PREPARE: 0x16,
  COM_STMT_EXECUTE: 0x17,
  COM_STMT_SEND_LONG_DATA: 0x18,
  COM_STMT_CLOSE: 0x19,
  COM_STMT_RESET: 0x1a,
  COM_SET_OPTION: 0x1b,
  COM_STMT_FETCH: 0x1c,
  COM_DAEMON: 0x1d,
  COM_BINLOG_DUMP_GTID: 0x1e,
  COM_RESET_CONNECTION: 0x1f,
  COM_CLONE: 0x20,
  COM_STMT_BULK_EXECUTE: 0xfa,
} as const;

export type CommandName = keyof typeof COMMAND;

export type CommandHandling =
  /** Classified SQL text, authorized by policy. */
  | "query"
  /** Answered or relayed without policy: it reads or changes nothing. */
  | "harmless"
  /** Handled by the gateway itself. */
  | "gateway"
  /** Refused with the reason given. */
  | { readonly refused: string };

const REPLICATION = { refused: "replication commands stream the server's data past statement policy" };
const LEGACY = { refused: "a legacy command that bypasses statement policy; send the SQL statement instead" };

export const COMMAND_HANDLING: Readonly<Partial<Record<number, CommandHandling>>> = {
  [COMMAND.COM_QUIT]: "gateway",
  [COMMAND.COM_INIT_DB]: "query",
  [COMMAND.COM_QUERY]: "query",
  [COMMAND.COM_PING]: "harmless",
  [COMMAND.COM_RESET_CONNECTION]: "gateway",
  [COMMAND.COM_CHANGE_USER]: "gateway",
  [COMMAND.COM_STMT_PREPARE]: "query",
  [COMMAND.COM_STMT_EXECUTE]: "query",
  [COMMAND.COM_STMT_CLOSE]: "gateway",
  [COMMAND.COM_STMT_RESET]: "gateway",
  [COMMAND.COM_STMT_SEND_LONG_DATA]: {
    refused:
      "long parameter data is sent outside the EXECUTE that the policy judges; bind the value directly",
  },
  [COMMAND.COM_STMT_FETCH]: { refused: "cursors are not relayed; execute without a cursor" },
  [COMMAND.COM_STMT_BULK_EXECUTE]: { refused: "MariaDB bulk execution is not relayed" },
  [COMMAND.COM_FIELD_LIST]: { refused: "COM_FIELD_LIST reads the schema outside policy; use SHOW COLUMNS" },
  [COMMAND.COM_CREATE_DB]: LEGACY,
  [COMMAND.COM_DROP_DB]: LEGACY,
  [COMMAND.COM_REFRESH]: LEGACY,
  [COMMAND.COM_SHUTDOWN]: LEGACY,
  [COMMAND.COM_PROCESS_KILL]: LEGACY,
  [COMMAND.COM_PROCESS_INFO]: LEGACY,
  [COMMAND.COM_STATISTICS]: LEGACY,
  [COMMAND.COM_DEBUG]: LEGACY,
  [COMMAND.COM_SET_OPTION]: { refused: "COM_SET_OPTION changes multi-statement mode outside policy" },
  [COMMAND.COM_BINLOG_DUMP]: REPLICATION,
  [COMMAND.COM_BINLOG_DUMP_GTID]: REPLICATION,
  [COMMAND.COM_REGISTER_SLAVE]: REPLICATION,
  [COMMAND.COM_TABLE_DUMP]: REPLICATION,
  [COMMAND.COM_CLONE]: REPLICATION,
};

export function commandName(code: number): string {
  for (const [name, value] of Object.entries(COMMAND)) if (value === code) return name;
  return `command 0x${code.toString(16).padStart(2, "0")}`;
}

export function handlingOf(code: number): CommandHandling {
  return COMMAND_HANDLING[code] ?? { refused: "unknown command" };
}
