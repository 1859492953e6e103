/**
 * The classifier's caches key a text within the session's current database (src/sql/mysql/scoped-cache.ts):
 * through a MysqlSession, the same text sent before and after USE, COM_INIT_DB, a refused USE and
 * COM_RESET_CONNECTION is judged against the database the session is in at that moment, never against the
 * one it was cached under.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Admission } from "../../../src/pipeline/pipeline-types.js";
import { CAPABILITY, GATEWAY_CAPABILITIES } from "../../../src/protocols/mysql/capabilities.js";
import { COMMAND } from "../../../src/protocols/mysql/command-codes.js";
import { PacketReader } from "../../../src/protocols/mysql/packet-reader.js";
import { encodePacket } from "../../../src/protocols/mysql/packet-writer.js";
import { encodeErr, encodeOk, SERVER_STATUS } from "../../../src/protocols/mysql/response-packets.js";
import { MysqlSession } from "../../../src/protocols/mysql/session.js";
import {
  createMysqlClassifier,
  loadMysqlParser,
  type MysqlClassifier,
} from "../../../src/sql/mysql/create-classifier.js";
import { FakeAdmitter } from "../../support/fake-admitter.js";
import { MemorySocket, turns } from "../../support/memory-socket.js";
import { allow, identity, silentLog } from "../../support/operation-fixtures.js";

let classifier: MysqlClassifier;
beforeAll(async () => {
  await loadMysqlParser();
  classifier = createMysqlClassifier();
});

const allowed: Admission = { allowed: true, verdict: allow };

function setup() {
  const client = new MemorySocket();
  const server = new MemorySocket();
  const pipeline = new FakeAdmitter();
  pipeline.answer = () => allowed;
  const handle = {
    id: "session-1",
    identity: identity(),
    connection: "shop",
    connectionLabels: {},
    clientAddress: "10.0.0.9:51234",
    signal: new AbortController().signal,
    touch() {},
    usedGrant() {},
    remember() {},
  };
  const reader = () => new PacketReader({ maxMessageBytes: 1 << 20 });
  const session = new MysqlSession(client, reader(), server, reader(), {
    session: handle,
    classifier,
    pipeline,
    log: silentLog,
    capabilities: GATEWAY_CAPABILITIES & ~CAPABILITY.SSL,
    database: "shop",
    onClose: () => undefined,
  });
  session.start();
  /** Sends one command, lets the server answer `reply` (OK by default), and returns what was admitted for it. */
  const command = async (
    code: number,
    body: string,
    reply = encodeOk({ status: SERVER_STATUS.AUTOCOMMIT }),
  ) => {
    const before = pipeline.calls.length;
    server.clear();
    client.send(encodePacket(Buffer.concat([Buffer.from([code]), Buffer.from(body, "utf8")]), 0));
    await turns();
    const call = pipeline.calls[before];
    if (server.output().length > 0) {
      server.send(encodePacket(reply, 1));
      await turns();
    }
    return call?.operation.steps.flatMap((step) =>
      step.accesses.map((a) =>
        a.resource.type === "Connection" ? a.action : `${a.action} ${a.resource.name}`,
      ),
    );
  };
  return { command };
}

describe("the classification cache follows the session's database", () => {
  it("judges a repeated text against the database of the moment: USE, COM_INIT_DB, refused USE, reset", async () => {
    const { command } = setup();
    const query = (text: string, reply?: Buffer) => command(COMMAND.COM_QUERY, text, reply);
    const SELECT = "SELECT * FROM secrets";
    expect(await query(SELECT)).toEqual(["sql:select shop.secrets"]);
    expect(await query(SELECT)).toEqual(["sql:select shop.secrets"]); // the cached classification
    expect(await query("USE other")).toEqual(["sql:use"]);
    expect(await query(SELECT)).toEqual(["sql:select other.secrets"]);
    expect(await query("SELECT * FROM secrets WHERE id = 7")).toEqual(["sql:select other.secrets"]);
    expect(await command(COMMAND.COM_INIT_DB, "shop")).toEqual(["sql:session"]);
    expect(await query(SELECT)).toEqual(["sql:select shop.secrets"]);
    expect(await query("SELECT * FROM secrets WHERE id = 8")).toEqual(["sql:select shop.secrets"]);
    // A USE the server refused leaves the database where it was.
    const refused = encodeErr({ code: 1049, sqlState: "42000", message: "Unknown database 'nope'" });
    expect(await query("USE nope", refused)).toEqual(["sql:use"]);
    expect(await query(SELECT)).toEqual(["sql:select shop.secrets"]);
    // Through more databases than one text's chain holds, and back.
    for (const database of ["a", "b", "c", "d", "e"]) {
      await command(COMMAND.COM_INIT_DB, database);
      expect(await query(SELECT)).toEqual([`sql:select ${database}.secrets`]);
    }
    // COM_RESET_CONNECTION puts the session back in the connection's database.
    await command(COMMAND.COM_RESET_CONNECTION, "");
    expect(await query(SELECT)).toEqual(["sql:select shop.secrets"]);
  });
});
