import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HTTP_TEST_POLICY, type HttpTestGateway, startHttpTestGateway } from "./http-test-gateway.js";

// The request target is parsed once, by the front; the exchange takes it under its connection (targetUnder)
// instead of parsing it again. These run through the real gateway what that second parse used to decide:
// a case-insensitive connection's lower-casing and ASCII rule, Host routing, and a query that must reach
// the upstream as the pairs policy judged.
const POLICY = `${HTTP_TEST_POLICY}
@id("folded-read")
permit(principal in Group::"agents", action in Action::"http:read", resource in Connection::"folded");
@id("folded-no-admin")
forbid(principal, action, resource in Connection::"folded") when { context.path like "/echo/admin*" };
@id("hosted-read")
permit(principal in Group::"agents", action in Action::"http:read", resource in Connection::"hosted");
@id("hosted-no-admin")
forbid(principal, action, resource in Connection::"hosted") when { context.path like "/echo/admin*" };
`;

let h: HttpTestGateway;

beforeAll(async () => {
  h = await startHttpTestGateway({
    policy: POLICY,
    extraConnections: (upstream) => ({
      folded: { type: "http", upstream, path_case: "insensitive" },
      hosted: { type: "http", upstream, routing: "host" },
    }),
  });
});
afterAll(async () => {
  await h?.stop();
});

/** curl, so the Host header can name a connection; returns the status. */
async function curlStatus(path: string, host?: string): Promise<number> {
  const token = await h.token();
  const { stdout } = await h.curl([
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    "--path-as-is",
    "-H",
    `Authorization: Bearer ${token}`,
    ...(host === undefined ? [] : ["-H", `Host: ${host}`]),
    `${h.base}${path}`,
  ]);
  return Number(stdout);
}

describe("HTTP target parsed once: connection rules applied to the front's parse", () => {
  it("a case-insensitive connection lower-cases the path for policy and the upstream", async () => {
    expect(await curlStatus("/folded/Echo/ADMIN")).toBe(403);
    expect(await curlStatus("/folded/ECHO/%41dmin/x")).toBe(403);
    const seen = h.upstream.received.length;
    expect(await curlStatus("/folded/Echo/Hello/?Name=Ada")).toBe(200);
    expect(h.upstream.received.slice(seen).map((r) => r.url)).toEqual(["/echo/hello/?Name=Ada"]);
  });

  it("a case-insensitive connection refuses a non-ASCII path, even one the first segment did not hold", async () => {
    const seen = h.upstream.received.length;
    expect(await curlStatus("/folded/echo/%C3%A9")).toBe(400);
    expect(h.upstream.received.length).toBe(seen);
    // The connection's own name is not part of the path under it: a case-sensitive connection takes é as is.
    expect(await curlStatus("/api/echo/%C3%A9")).toBe(200);
  });

  it("Host routing keeps the whole path, first segment included", async () => {
    const seen = h.upstream.received.length;
    expect(await curlStatus("/echo/x/./y", "hosted.localhost")).toBe(200);
    expect(await curlStatus("/echo/x/../admin", "hosted.localhost")).toBe(403);
    expect(h.upstream.received.slice(seen).map((r) => r.url)).toEqual(["/echo/x/y"]);
  });

  it("an encoded & or = in a query value reaches the upstream inside that value, as policy saw it", async () => {
    const seen = h.upstream.received.length;
    // Policy forbids force=true on api: here force is not a parameter but part of x's value, for both.
    expect(await curlStatus("/api/echo/x?x=1%26force%3Dtrue&q=a%2Bb+c")).toBe(200);
    const url = new URL(h.upstream.received.slice(seen)[0]!.url, "http://upstream");
    expect([...url.searchParams]).toEqual([
      ["x", "1&force=true"],
      ["q", "a+b c"],
    ]);
    const recorded = (await h.events("operation")).at(-1)!;
    expect(JSON.stringify(recorded.data)).toContain('"x":"1&force=true"');
    // The parameter itself is still judged.
    expect(await curlStatus("/api/echo/x?x=1&force=true")).toBe(403);
  });
});
