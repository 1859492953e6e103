/**
 * Statements recognised by their leading words, before (or instead of) the parser: those sqlparser-rs does not
 * parse, and those the gateway refuses whatever the policy. Anything else goes to the parser.
 */

export type KeywordRule =
  | { readonly refuse: string }
  | { readonly verb: string }
  /** PREPARE / EXECUTE / DEALLOCATE: handled with the session's prepared statement names. */
  | { readonly dynamic: "prepare" | "execute" | "deallocate" };

const RULES: readonly (readonly [readonly string[], KeywordRule])[] = [
  [["LOAD", "DATA", "LOCAL"], { refuse: "LOAD DATA LOCAL INFILE reads a client file; it is not relayed" }],
  [["LOAD", "XML", "LOCAL"], { refuse: "LOAD XML LOCAL INFILE reads a client file; it is not relayed" }],
  [["LOAD", "DATA"], { verb: "sql:copy_file" }],
  [["LOAD", "XML"], { verb: "sql:copy_file" }],
  [["LOAD", "INDEX"], { verb: "sql:maintenance" }],
  [["HANDLER"], { refuse: "HANDLER reads tables row by row past statement policy" }],
  [["DO"], { verb: "sql:do" }],
  [["SHUTDOWN"], { refuse: "SHUTDOWN stops the server" }],
  [["RESTART"], { refuse: "RESTART restarts the server" }],
  [["BINLOG"], { refuse: "BINLOG replays raw replication events" }],
  [["INSTALL"], { refuse: "INSTALL PLUGIN/SONAME loads server code" }],
  [["UNINSTALL"], { refuse: "UNINSTALL PLUGIN/SONAME unloads server code" }],
  [["CREATE", "FUNCTION"], { refuse: "CREATE FUNCTION (stored or UDF SONAME) is not relayed" }],
  [["CREATE", "AGGREGATE"], { refuse: "CREATE AGGREGATE FUNCTION loads server code" }],
  [["CREATE", "PROCEDURE"], { refuse: "CREATE PROCEDURE is not relayed" }],
  [["CREATE", "TRIGGER"], { refuse: "CREATE TRIGGER is not relayed" }],
  [["CREATE", "EVENT"], { refuse: "CREATE EVENT schedules code outside any session" }],
  [["CREATE", "DEFINER"], { refuse: "DEFINER= runs code as another user" }],
  [["CREATE", "SERVER"], { refuse: "CREATE SERVER (FEDERATED/CONNECT targets) is not relayed" }],
  [["ALTER", "SERVER"], { refuse: "ALTER SERVER is not relayed" }],
  [["ALTER", "EVENT"], { refuse: "ALTER EVENT is not relayed" }],
  [["CHANGE", "MASTER"], { refuse: "replication control is not relayed" }],
  [["CHANGE", "REPLICATION"], { refuse: "replication control is not relayed" }],
  [["START", "SLAVE"], { refuse: "replication control is not relayed" }],
  [["STOP", "SLAVE"], { refuse: "replication control is not relayed" }],
  [["START", "REPLICA"], { refuse: "replication control is not relayed" }],
  [["STOP", "REPLICA"], { refuse: "replication control is not relayed" }],
  [["RESET"], { verb: "sql:maintenance" }],
  [["PURGE"], { verb: "sql:maintenance" }],
  [["FLUSH"], { verb: "sql:maintenance" }],
  [["CACHE", "INDEX"], { verb: "sql:maintenance" }],
  [["OPTIMIZE"], { verb: "sql:maintenance" }],
  [["REPAIR"], { verb: "sql:maintenance" }],
  [["CHECK"], { verb: "sql:maintenance" }],
  [["CHECKSUM"], { verb: "sql:maintenance" }],
  [["BACKUP"], { refuse: "BACKUP STAGE is not relayed" }],
  [["XA"], { refuse: "XA transactions are not relayed" }],
  [["SIGNAL"], { refuse: "SIGNAL is not relayed" }],
  [["RESIGNAL"], { refuse: "RESIGNAL is not relayed" }],
  [["GET", "DIAGNOSTICS"], { refuse: "GET DIAGNOSTICS is not relayed" }],
  [["HELP"], { verb: "sql:session" }],
  [["PREPARE"], { dynamic: "prepare" }],
  [["EXECUTE"], { dynamic: "execute" }],
  [["DEALLOCATE"], { dynamic: "deallocate" }],
  [["DROP", "PREPARE"], { dynamic: "deallocate" }],
  [["SET", "PASSWORD"], { verb: "sql:grant" }],
  [["SET", "DEFAULT", "ROLE"], { verb: "sql:grant" }],
  [["RENAME", "USER"], { verb: "sql:grant" }],
  [["CREATE", "USER"], { verb: "sql:grant" }],
  [["ALTER", "USER"], { verb: "sql:grant" }],
  [["CREATE", "ROLE"], { verb: "sql:grant" }],
  [["DROP", "ROLE"], { verb: "sql:grant" }],
  [["DROP", "USER"], { verb: "sql:grant" }],
  [["GRANT"], { verb: "sql:grant" }],
  [["REVOKE"], { verb: "sql:grant" }],
  [["SET", "STATEMENT"], { refuse: "SET STATEMENT ... FOR changes settings for one statement; not relayed" }],
];

export function keywordRule(words: readonly string[]): KeywordRule | undefined {
  for (const [prefix, rule] of RULES) {
    if (prefix.every((word, i) => words[i] === word)) return rule;
  }
  return undefined;
}
