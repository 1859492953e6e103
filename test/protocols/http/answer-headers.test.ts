import { describe, expect, it } from "vitest";
import { answerHeadersOf } from "../../../src/protocols/http/exchange-response.js";
import { SCRUBBED } from "../../../src/protocols/http/secret-scrubber.js";
import type { HttpCredential } from "../../../src/protocols/http/upstream.js";

const SECRET = "s3cr3t-upstream-key-0123456789";
const credential: HttpCredential = {
  headers: [["authorization", `Bearer ${SECRET}`]],
  query: undefined,
  secrets: [`Bearer ${SECRET}`, SECRET],
};

/** An upstream answer's headers as undici's parseHeaders gives them: lower-case names, a repeat as an array. */
const upstream = {
  headers: {
    "content-type": "application/json",
    "content-encoding": "gzip",
    etag: '"v1"',
    "content-length": "120",
    connection: "keep-alive",
    "keep-alive": "timeout=5",
    "transfer-encoding": "chunked",
    "set-cookie": ["a=1", `echo=${SECRET}`],
    "x-echo": `Bearer ${SECRET}`,
    vary: undefined,
  },
};

/** The flat list as name/value pairs, for reading. */
const pairs = (flat: readonly string[]) => {
  expect(flat.length % 2).toBe(0);
  return Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]]);
};

describe("answerHeadersOf", () => {
  it("flattens the upstream's end-to-end headers in order, hop-by-hop dropped, the secret scrubbed", () => {
    expect(pairs(answerHeadersOf(upstream, credential, undefined, false))).toEqual([
      ["content-type", "application/json"],
      ["content-encoding", "gzip"],
      ["etag", '"v1"'],
      ["set-cookie", "a=1"],
      ["set-cookie", `echo=${SCRUBBED}`],
      ["x-echo", SCRUBBED],
    ]);
  });

  it("drops Content-Encoding and ETag of a body it will mask, in the same pass, and nothing else", () => {
    const masked = pairs(answerHeadersOf(upstream, credential, undefined, true));
    const passed = pairs(answerHeadersOf(upstream, credential, undefined, false));
    expect(masked).toEqual(passed.filter(([name]) => name !== "content-encoding" && name !== "etag"));
  });

  it("puts the held request's id first", () => {
    const flat = answerHeadersOf(upstream, credential, "req-1", true);
    expect(flat.slice(0, 2)).toEqual(["latch-request-id", "req-1"]);
    expect(flat.filter((value) => value === "latch-request-id")).toHaveLength(1);
  });

  it("gives each answer an array of its own (writing it appends the framing headers in place)", () => {
    const first = answerHeadersOf(upstream, credential, undefined, false);
    const second = answerHeadersOf(upstream, credential, undefined, false);
    expect(first).not.toBe(second);
    first.push("content-length", "1");
    expect(second).toEqual(answerHeadersOf(upstream, credential, undefined, false));
  });
});
