import { describe, expect, it } from "vitest";
import { decodeFrontend } from "../../../src/protocols/postgres/decode-frontend.js";
import { encodeFrontend } from "../../../src/protocols/postgres/encode-frontend.js";
import type { FrontendMessage } from "../../../src/protocols/postgres/messages.js";
import { describePortalsBeforeExecute } from "../../../src/protocols/postgres/portal-describe.js";

const bind = (portal: string): FrontendMessage => ({
  kind: "Bind",
  portal,
  statement: "s",
  paramFormats: [],
  params: [],
  resultFormats: [],
});
function kinds(messages: FrontendMessage[]) {
  const frames = messages.map((m) => encodeFrontend(m));
  const out = describePortalsBeforeExecute(frames, messages);
  const decoded = out.frames.map((raw) => decodeFrontend({ type: raw[0]!, raw, body: raw.subarray(5) }));
  return {
    shape: decoded.map((m) => (m.kind === "Describe" ? `D${m.target}:${m.name}` : m.kind)),
    hidden: [...out.hiddenAnswers],
  };
}

describe("Describe(portal) before Execute on masked connections", () => {
  it("inserts one before an Execute whose portal was not described, counting earlier Describes", () => {
    const result = kinds([
      { kind: "Describe", target: "S", name: "s" },
      bind(""),
      { kind: "Execute", portal: "", maxRows: 0 },
      { kind: "Sync" },
    ]);
    expect(result.shape).toEqual(["DS:s", "Bind", "DP:", "Execute", "Sync"]);
    expect(result.hidden).toEqual([1]); // the statement Describe answers first
  });

  it("leaves a batch alone when the client described the portal itself", () => {
    const result = kinds([
      bind("p"),
      { kind: "Describe", target: "P", name: "p" },
      { kind: "Execute", portal: "p", maxRows: 0 },
      { kind: "Sync" },
    ]);
    expect(result.shape).toEqual(["Bind", "DP:p", "Execute", "Sync"]);
    expect(result.hidden).toEqual([]);
  });

  it("describes again after the portal is re-bound, once per binding", () => {
    const result = kinds([
      bind(""),
      { kind: "Execute", portal: "", maxRows: 0 },
      { kind: "Execute", portal: "", maxRows: 0 },
      bind(""),
      { kind: "Execute", portal: "", maxRows: 0 },
      { kind: "Sync" },
    ]);
    expect(result.shape).toEqual(["Bind", "DP:", "Execute", "Execute", "Bind", "DP:", "Execute", "Sync"]);
    expect(result.hidden).toEqual([0, 1]);
  });
});
