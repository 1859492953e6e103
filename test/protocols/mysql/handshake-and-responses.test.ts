import { describe, expect, it } from "vitest";
import {
  CAPABILITY,
  GATEWAY_CAPABILITIES,
  negotiate,
  upstreamCapabilities,
} from "../../../src/protocols/mysql/capabilities.js";
import { commandName, handlingOf } from "../../../src/protocols/mysql/command-codes.js";
import {
  decodeClientHello,
  decodeGreeting,
  encodeGreeting,
  encodeHandshakeResponse,
  encodeSslRequest,
} from "../../../src/protocols/mysql/handshake-packets.js";
import { PacketReader } from "../../../src/protocols/mysql/packet-reader.js";
import {
  decodeEof,
  decodeOk,
  encodeEof,
  encodeOk,
  eofStatusOf,
  okStatusOf,
} from "../../../src/protocols/mysql/response-packets.js";
import { ResponseTracker } from "../../../src/protocols/mysql/response-tracker.js";
import { nativePasswordScramble } from "../../../src/protocols/mysql/upstream-auth.js";
import { naivePacket } from "../../support/naive-mysql-bytes.js";
import { cut, splitPoints } from "../postgres/split-feed.js";

const lenenc = (s: string) => [s.length, ...Buffer.from(s)];

/** A text result set as MariaDB sends it without DEPRECATE_EOF: 1 column, 2 rows, then a second OK result. */
function resultStream(): Buffer {
  const column = [
    ...lenenc("def"),
    ...lenenc("shop"),
    ...lenenc("u"),
    ...lenenc("users"),
    ...lenenc("n"),
    ...lenenc("name"),
    0x0c,
    0x21,
    0,
    0xff,
    0,
    0,
    0,
    0xfd,
    0,
    0,
    0,
    0,
    0,
  ];
  return Buffer.concat([
    naivePacket(1, [1]),
    naivePacket(2, column),
    naivePacket(3, [0xfe, 0, 0, 0x02, 0]),
    naivePacket(4, lenenc("ann")),
    naivePacket(5, [0xfb]),
    naivePacket(6, [0xfe, 0, 0, 0x0a, 0]), // EOF with MORE_RESULTS_EXISTS
    naivePacket(7, [0x00, 3, 0, 0x02, 0, 0, 0]),
  ]);
}

describe("MySQL handshake packets", () => {
  it("round-trips the greeting and reads what real servers send", () => {
    const scramble = Buffer.from("abcdefghijklmnopqrst");
    const payload = encodeGreeting({
      serverVersion: "5.7.99-Latch",
      connectionId: 7,
      scramble,
      capabilities: GATEWAY_CAPABILITIES,
      charset: 45,
      status: 2,
      authPlugin: "mysql_native_password",
    });
    expect(decodeGreeting(payload)).toMatchObject({
      serverVersion: "5.7.99-Latch",
      connectionId: 7,
      scramble,
      capabilities: GATEWAY_CAPABILITIES,
      authPlugin: "mysql_native_password",
    });
  });

  it("tells an SSLRequest from a HandshakeResponse41 and reads database, plugin and attributes", () => {
    const caps = GATEWAY_CAPABILITIES | CAPABILITY.CONNECT_ATTRS;
    expect(decodeClientHello(encodeSslRequest(caps, 45)).kind).toBe("SSLRequest");
    const response = decodeClientHello(
      encodeHandshakeResponse({
        capabilities: caps,
        maxPacketSize: 1 << 24,
        charset: 45,
        user: "agent",
        authResponse: Buffer.from("tok"),
        database: "shop-mysql",
        authPlugin: "mysql_clear_password",
        attributes: new Map([["_client_name", "libmariadb"]]),
      }),
    );
    expect(response).toMatchObject({
      kind: "HandshakeResponse41",
      user: "agent",
      database: "shop-mysql",
      authPlugin: "mysql_clear_password",
    });
    expect(response.kind === "HandshakeResponse41" && response.attributes.get("_client_name")).toBe(
      "libmariadb",
    );
  });

  it("refuses truncated or pre-4.1 handshakes with a protocol violation", () => {
    expect(() => decodeClientHello(Buffer.from([0, 0, 0, 0]))).toThrow(/protocol 4.1/);
    const full = encodeHandshakeResponse({
      capabilities: GATEWAY_CAPABILITIES,
      maxPacketSize: 1,
      charset: 45,
      user: "a",
      authResponse: Buffer.alloc(3),
      database: "d",
      authPlugin: "p",
      attributes: new Map(),
    });
    for (let length = 33; length < full.length - 4; length++) {
      const hello = full.subarray(0, length);
      try {
        decodeClientHello(hello);
      } catch (error) {
        expect((error as Error).name).toBe("MysqlProtocolViolation");
      }
    }
  });

  it("never offers LOCAL_FILES, compression or connection attributes, whatever the client asks", () => {
    const everything = 0xffffffff;
    const chosen = negotiate(everything);
    for (const bit of [
      CAPABILITY.LOCAL_FILES,
      CAPABILITY.COMPRESS,
      CAPABILITY.CONNECT_ATTRS,
      CAPABILITY.SESSION_TRACK,
    ])
      expect(chosen & bit).toBe(0);
    const upstream = upstreamCapabilities(chosen, everything, false);
    expect(
      upstream & (CAPABILITY.LOCAL_FILES | CAPABILITY.COMPRESS | CAPABILITY.CONNECT_ATTRS | CAPABILITY.SSL),
    ).toBe(0);
    expect(() => upstreamCapabilities(chosen, everything & ~CAPABILITY.DEPRECATE_EOF, false)).toThrow(
      /DEPRECATE_EOF/,
    );
  });

  it("computes the mysql_native_password scramble (known vector: empty password is empty)", () => {
    expect(nativePasswordScramble("", Buffer.alloc(20)).length).toBe(0);
    expect(nativePasswordScramble("secret", Buffer.alloc(20, 1)).length).toBe(20);
  });

  it("refuses replication and unknown commands by table", () => {
    expect(handlingOf(0x12)).toMatchObject({ refused: expect.stringMatching(/replication/) });
    expect(handlingOf(0x15)).toMatchObject({ refused: expect.stringMatching(/replication/) });
    expect(handlingOf(0x99)).toEqual({ refused: "unknown command" });
    expect(commandName(0x03)).toBe("COM_QUERY");
  });
});

describe("ResponseTracker", () => {
  it("finds the end of a multi-result answer however the stream is cut", () => {
    const stream = resultStream();
    for (const points of splitPoints(stream.length, 0)) {
      const reader = new PacketReader({ maxMessageBytes: 1024 });
      const tracker = new ResponseTracker(GATEWAY_CAPABILITIES & ~CAPABILITY.DEPRECATE_EOF);
      const done: unknown[] = [];
      for (const chunk of cut(stream, points)) {
        reader.push(chunk);
        for (let m = reader.next(); m !== undefined; m = reader.next()) {
          const summary = tracker.push(m.payload);
          if (summary !== undefined) done.push(summary);
        }
      }
      expect(done).toEqual([{ rows: 2, affectedRows: 3, status: 2 }]);
    }
  });

  it("ends at an ERR, and refuses a LOCAL INFILE request that was never negotiated", () => {
    const tracker = new ResponseTracker(GATEWAY_CAPABILITIES);
    expect(tracker.push(Buffer.from([0xff, 0x7a, 0x04, 0x23, ...Buffer.from("42000denied")]))).toMatchObject({
      error: { code: "1146" },
    });
    expect(() =>
      new ResponseTracker(GATEWAY_CAPABILITIES).push(Buffer.from([0xfb, ...Buffer.from("/etc/passwd")])),
    ).toThrow(/LOCAL INFILE/);
  });

  it("reads the status that ends a result as the full decoders do, truncated packets included", () => {
    const oks = [
      encodeOk(
        { status: 0x0022, affectedRows: 70_000, lastInsertId: 2 ** 40, info: "Rows matched: 1" },
        0xfe,
      ),
      encodeOk({ status: 0x000a }),
    ];
    for (const ok of oks)
      for (let length = 1; length <= ok.length; length++) {
        const cut = ok.subarray(0, length);
        let expected: number | string;
        try {
          expected = decodeOk(cut).status;
        } catch (error) {
          expected = (error as Error).message;
        }
        if (typeof expected === "number") expect(okStatusOf(cut)).toBe(expected);
        else expect(() => okStatusOf(cut)).toThrow(expected);
      }
    const eof = encodeEof(0x0003, 7);
    for (let length = 1; length <= eof.length; length++)
      expect(eofStatusOf(eof.subarray(0, length))).toBe(decodeEof(eof.subarray(0, length)).status);
  });

  it("follows a COM_STMT_PREPARE answer to its last definition", () => {
    const tracker = new ResponseTracker(GATEWAY_CAPABILITIES, "prepare");
    const ok = Buffer.from([0x00, 9, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0]);
    expect(tracker.push(ok)).toBeUndefined();
    expect(tracker.push(Buffer.from([1]))).toBeUndefined();
    expect(tracker.push(Buffer.from([1]))).toBeUndefined();
    expect(tracker.push(Buffer.from([1]))).toEqual({
      rows: 0,
      affectedRows: 0,
      status: 0,
      statementId: 9,
      parameterCount: 2,
    });
  });
});
