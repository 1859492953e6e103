import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { createConsoleSessions, SESSION_COOKIE } from "../../src/admin/console-sessions.js";

/** Console sign-ins end at their TTL (clock injected), and at sign-out (a sign-in in progress: pending-sign-ins.test.ts). */
describe("console sessions", () => {
  const setup = () => {
    let now = 1_000_000;
    const sessions = createConsoleSessions({ ttlMs: 60_000, secureCookies: true, now: () => now });
    const app = Fastify();
    app.post("/in", async (_request, reply) => {
      await sessions.signIn(reply, {
        subject: "alice",
        issuer: "corp",
        groups: ["dba"],
        expiresAt: now + 5_000,
      });
      return {};
    });
    app.post("/out", async (request, reply) => {
      await sessions.signOut(request, reply);
      return {};
    });
    app.get("/who", async (request) => ({ who: (await sessions.caller(request))?.identity.subject ?? null }));
    return { app, advance: (ms: number) => (now += ms) };
  };
  const cookieOf = (header: string | string[] | undefined, name: string) =>
    [header ?? []].flat().find((line) => line.startsWith(`${name}=`)) ?? "";

  it("sets an HttpOnly, Secure, SameSite=Strict cookie that lasts the TTL, not the ID token's minutes", async () => {
    const { app, advance } = setup();
    const signedIn = await app.inject({ method: "POST", url: "/in" });
    const line = cookieOf(signedIn.headers["set-cookie"], SESSION_COOKIE);
    expect(line).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=60; Secure$/);
    const cookie = line.split(";")[0]!;
    const who = async () => (await app.inject({ url: "/who", headers: { cookie } })).json().who;
    expect(await who()).toBe("alice");
    advance(59_000);
    expect(await who()).toBe("alice");
    advance(1_000);
    expect(await who()).toBeNull();
  });

  it("ends at sign-out; a made-up cookie is nobody", async () => {
    const { app } = setup();
    const cookie = cookieOf(
      (await app.inject({ method: "POST", url: "/in" })).headers["set-cookie"],
      SESSION_COOKIE,
    ).split(";")[0]!;
    await app.inject({ method: "POST", url: "/out", headers: { cookie } });
    expect((await app.inject({ url: "/who", headers: { cookie } })).json().who).toBeNull();
    const forged = `${SESSION_COOKIE}=${"A".repeat(43)}`;
    expect((await app.inject({ url: "/who", headers: { cookie: forged } })).json().who).toBeNull();
  });
});
