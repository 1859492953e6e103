import { describe, expect, it } from "vitest";
import { guardHeaders, guardHeadersOnce } from "../../../src/protocols/http/header-guard.js";

const base = ["Host", "gw.example", "Authorization", "Bearer abc.def.ghi", "Accept", "application/json"];
const lists: string[][] = [
  base,
  [...base],
  [...base, "X-Trace", "1"],
  [...base],
  ["Host", "gw.example", "Authorization", "Bearer other.token"],
  [...base, "X-HTTP-Method-Override", "DELETE"], // refused
  [...base],
  ["Host", "a", "Host", "b"], // refused: repeated
  ["Host", "a", "Host", "b"],
  [...base, "Connection", "keep-alive, x-secret"], // refused: Connection names a header
  ["Host", "gw.example", "Authorization", "Bearer abc.def.ghi", "Accept", "application/jsoN"],
  [...base, "X-Echo", "abc.def.ghi"], // refused: the token in another header
  [...base],
  [],
  [],
];

describe("guardHeaders memo", () => {
  it("gives the verdict of a fresh guard for every list, whatever came before it", () => {
    for (let round = 0; round < 3; round++)
      for (const raw of lists) expect(guardHeaders(raw)).toEqual(guardHeadersOnce(raw));
  });

  it("a remembered result cannot be changed by the request that got it", () => {
    guardHeaders([...base]);
    const again = guardHeaders([...base]);
    expect(again.ok).toBe(true);
    if (!again.ok) return;
    expect(() => (again.headers.forward as [string, string][]).push(["x", "y"])).toThrow(TypeError);
    expect(() => {
      (again.headers as { token: string | undefined }).token = "other";
    }).toThrow(TypeError);
    expect(guardHeaders([...base])).toEqual(guardHeadersOnce([...base]));
  });

  it("headers differing in one value are judged again, not taken from the memo", () => {
    const first = guardHeaders([...base, "X-Trace", "1"]);
    const second = guardHeaders([...base, "X-Trace", "2"]);
    expect(first.ok && second.ok).toBe(true);
    if (first.ok && second.ok) {
      expect(first.headers.byName.get("x-trace")).toBe("1");
      expect(second.headers.byName.get("x-trace")).toBe("2");
    }
  });
});
