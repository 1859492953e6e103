/**
 * Instructions of one MySQL point select through the MySQL session in process, without sockets: the compiled
 * MysqlSession between two in-memory sockets, the real classifier, the real pipeline (Cedar engine with
 * bench/mysql-counters.ts' policy, operation and result records, the audit batcher) over an audit appender that
 * keeps nothing (the chain, journal and index are the audit helpers' and are counted by their own loops), and
 * the server's answer replayed from bytes built here as MariaDB sends them (DEPRECATE_EOF). Per statement the
 * client's command is pushed, the session admits and forwards it, the answer is pushed back and relayed, and
 * the event loop turns once (the batcher's end-of-turn flush), the same for every build.
 * Workloads: `text` (COM_QUERY `SELECT c FROM sbtest1 WHERE id=N`, every id new: sysbench's
 * --db-ps-mode=disable) and `prepared` (COM_STMT_EXECUTE of `... WHERE id=?` with a LONG parameter, binary
 * rows); `stub` in place of the pipeline (BENCH_MYSQL_ADMITTER=stub: allows at once, records nothing) leaves
 * the MySQL code alone.
 * Deterministic under callgrind, which counts only what runs between two `os.loadavg()` calls:
 *   valgrind --tool=callgrind --dump-before=uv_loadavg --callgrind-out-file=/tmp/ses.%p \
 *     node --single-threaded --import tsx bench/mysql-session-instructions.ts [text|prepared]
 * then the second dump's `summary:` / 10,000 statements. BENCH_LATCH_DIST=<dist of another build> counts
 * another commit (default: this tree's dist/). Without valgrind it prints µs per statement (indicative only).
 */
import { EventEmitter } from "node:events";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { GCProfiler, getHeapStatistics } from "node:v8";
import pino from "pino";

const dist =
  process.env.BENCH_LATCH_DIST ?? fileURLToPath(new URL("../dist/", import.meta.url).href).replace(/\/$/, "");
const load = async (path: string) => import(pathToFileURL(join(dist, path)).href);
const { createMysqlClassifier, loadMysqlParser } = await load("src/sql/mysql/create-classifier.js");
const { createCedarPolicyEngine } = await load("src/policy/create-cedar-engine.js");
const { parsePolicySources } = await load("src/policy/load-policies.js");
const { OperationPipeline } = await load("src/pipeline/operation-pipeline.js");
const { createMetrics } = await load("src/observability/metrics.js");
const { MysqlSession } = await load("src/protocols/mysql/session.js");
const { PacketReader } = await load("src/protocols/mysql/packet-reader.js");
const { encodePacket } = await load("src/protocols/mysql/packet-writer.js");
const { CAPABILITY, GATEWAY_CAPABILITIES } = await load("src/protocols/mysql/capabilities.js");
const { SessionRecheck } = await load("src/session/session-recheck.js");

const workload = process.argv[2] === "prepared" ? "prepared" : "text";
const WARM = Number(process.env.BENCH_MYSQL_WARMUP ?? 20_000);
const COUNTED = 10_000;
const POLICY = `permit(principal in Group::"bench", action in [Action::"sql:select", Action::"sql:session", Action::"sql:set"], resource in Connection::"sb");`;

/** A socket as the session uses it: data pushed in by emit("data"), what it writes counted and kept. */
class MemorySocket extends EventEmitter {
  destroyed = false;
  writes = 0;
  last: Buffer | undefined;
  write(bytes: Buffer): boolean {
    this.writes++;
    this.last = bytes;
    return true;
  }
  isPaused(): boolean {
    return false;
  }
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  end(): this {
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

const lenenc = (text: string): Buffer => {
  const bytes = Buffer.from(text, "utf8");
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
};
const u16 = (n: number) => Buffer.from([n & 0xff, n >> 8]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
/** A Protocol::ColumnDefinition41 of sbtest1, as MariaDB sends it. */
const column = (name: string, type: number, length: number) =>
  Buffer.concat([
    lenenc("def"),
    lenenc("latch_counters"),
    lenenc("sbtest1"),
    lenenc("sbtest1"),
    lenenc(name),
    lenenc(name),
    Buffer.from([0x0c]),
    u16(45),
    u32(length),
    Buffer.from([type, 0x01, 0x10, 0x00, 0x00, 0x00]),
  ]);
/** Packets back to back, sequence ids from `first`. */
const packets = (payloads: Buffer[], first: number) =>
  Buffer.concat(payloads.map((payload, i) => encodePacket(payload, first + i)));
/** The OK that ends a result set under DEPRECATE_EOF (0xFE header), autocommit set. */
const END = Buffer.from([0xfe, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);
const VALUE = "1234-".repeat(24);
const STRING = 0xfe;
const LONG = 0x03;

await loadMysqlParser();
const classifier = createMysqlClassifier();
const engine = createCedarPolicyEngine(parsePolicySources([{ file: "bench.cedar", text: POLICY }]));
const identity = { subject: "counter", issuer: "dev", groups: ["bench"], expiresAt: Date.now() + 7_200_000 };
const appender = { append: () => undefined, flush: async () => undefined };
const log = pino({ level: "silent" });
const pipeline =
  process.env.BENCH_MYSQL_ADMITTER === "stub"
    ? {
        admit: async () => ({ allowed: true, verdict: { decision: "allow", rules: [], reason: "" } }),
        admitNow: () => ({ allowed: true, verdict: { decision: "allow", rules: [], reason: "" } }),
        complete: () => undefined,
        recordRefusal: () => undefined,
        recordProtocolError: () => undefined,
        recordDurably: async () => undefined,
        record: () => undefined,
      }
    : new OperationPipeline(() => engine, appender, createMetrics(), log);
const subject = { identity, connection: "sb", connectionLabels: {}, clientAddress: "127.0.0.1:40000" };
const recheck = new SessionRecheck(subject);
const session = {
  id: "00000000-0000-4000-8000-000000000001",
  ...subject,
  signal: new AbortController().signal,
  touch: () => undefined,
  usedGrant: () => undefined,
  remember: (steps: unknown[]) => recheck.remember(steps),
};
const client = new MemorySocket();
const server = new MemorySocket();
const capabilities = GATEWAY_CAPABILITIES & ~CAPABILITY.SSL;
const mysql = new MysqlSession(
  client,
  new PacketReader({ maxMessageBytes: 64 << 20 }),
  server,
  new PacketReader({ maxMessageBytes: 64 << 20 }),
  {
    session,
    classifier,
    pipeline,
    log,
    capabilities,
    database: "latch_counters",
    preview: () => ({ slack: { rows: 0, percent: 0 }, run: async () => ({ status: "refused" }) }),
    onClose: () => undefined,
  },
);
mysql.start();

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
/** One command and its answer: false when the session did not forward or relay it. */
async function roundTrip(command: Buffer, answer: Buffer): Promise<void> {
  const toServer = server.writes;
  const toClient = client.writes;
  client.emit("data", command);
  await null; // an admission that settles in a promise forwards here
  // One statement at a time the batcher writes in the caller's turn; the first statements wait for a turn.
  for (let turns = 0; server.writes === toServer && turns < 3; turns++) await turn();
  if (server.writes !== toServer + 1)
    throw new Error(`the session did not forward the command: ${client.last?.toString("latin1")}`);
  server.emit("data", answer);
  if (client.writes !== toClient + 1) throw new Error("the session did not relay the answer");
  await turn();
}

const textAnswer = packets([Buffer.from([1]), column("c", STRING, 480), lenenc(VALUE), END], 1);
const binaryAnswer = packets(
  [
    Buffer.from([1]),
    column("c", STRING, 480),
    Buffer.concat([Buffer.from([0x00, 0x00]), lenenc(VALUE)]),
    END,
  ],
  1,
);
const STATEMENT_ID = 7;
if (workload === "prepared") {
  const text = "SELECT c FROM sbtest1 WHERE id=?";
  const prepareOk = Buffer.concat([
    Buffer.from([0x00]),
    u32(STATEMENT_ID),
    u16(1),
    u16(1),
    Buffer.from([0]),
    u16(0),
  ]);
  await roundTrip(
    encodePacket(Buffer.concat([Buffer.from([0x16]), Buffer.from(text)]), 0),
    packets([prepareOk, column("?", LONG, 0), column("c", STRING, 480)], 1),
  );
}
const commandOf = (id: number): Buffer =>
  workload === "text"
    ? encodePacket(Buffer.from(`\x03SELECT c FROM sbtest1 WHERE id=${id}`, "latin1"), 0)
    : encodePacket(
        // COM_STMT_EXECUTE: id, no cursor, one iteration, null bitmap, types sent (as mysql2 does), the value.
        Buffer.concat([
          Buffer.from([0x17]),
          u32(STATEMENT_ID),
          Buffer.from([0]),
          u32(1),
          Buffer.from([0, 1, LONG, 0]),
          u32(id),
        ]),
        0,
      );
const answer = workload === "text" ? textAnswer : binaryAnswer;

/**
 * `count` statements from the `from`th: one function for the warm-up and the counted part, so the counted part
 * runs the code the warm-up optimised. (A loop at module level is compiled on stack replacement, and that code
 * is thrown away at the first line after the loop that never ran, so the counted part compiled it again: 8-14k
 * instructions per statement of TurboFan in the window, different for every build.)
 */
async function run(from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) await roundTrip(commandOf(1 + i), answer);
}

await run(0, WARM);
// Heap bytes allocated in the counted part: what is live at its end, less at its start, plus what GC freed.
const profiler = new GCProfiler();
const usedBefore = getHeapStatistics().used_heap_size;
profiler.start();
const started = performance.now();
loadavg(); // callgrind dumps here (--dump-before=uv_loadavg): the counted part starts
await run(WARM, COUNTED);
loadavg(); // and ends here
const micros = ((performance.now() - started) * 1000) / COUNTED;
let freed = 0;
for (const gc of profiler.stop()?.statistics ?? [])
  freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
const heapBytes = Math.round((getHeapStatistics().used_heap_size - usedBefore + freed) / COUNTED);
console.log(
  `${workload}: ${COUNTED} statements counted, ${heapBytes} heap bytes and ${micros.toFixed(2)} µs (wall time) each`,
);
process.exit(0);
