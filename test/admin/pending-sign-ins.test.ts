import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import {
  createMemoryPendingSignInStore,
  createPendingSignIns,
  FLOW_COOKIE,
  loggable,
  PENDING_SIGN_IN_TTL_MS,
  SIGN_IN_EXPIRED,
  SIGN_IN_NOT_FOUND,
  TooManyPendingSignIns,
} from "../../src/admin/pending-sign-ins.js";

/** A sign-in in progress: its cookie, one callback per sign-in, a clear refusal once expired (clock injected). */
describe("pending console sign-ins", () => {
  const setup = (secureCookies = true) => {
    let now = 1_000_000;
    const store = createMemoryPendingSignInStore();
    const pending = createPendingSignIns({ secureCookies, store, now: () => now });
    const app = Fastify();
    app.post("/start", async (_request, reply) => {
      await pending.startOidc(reply, "corp", { state: "s1", nonce: "n1", verifier: "v1" });
      return {};
    });
    app.get<{ Querystring: { provider?: string } }>("/finish", async (request) => {
      const finished = await pending.finishOidc(request, request.query.provider ?? "corp");
      return finished.refused === undefined ? { data: finished.pending.data } : { refused: finished.refused };
    });
    const start = async () => {
      const header = (await app.inject({ method: "POST", url: "/start" })).headers["set-cookie"];
      return [header ?? []].flat().find((line) => line.startsWith(`${FLOW_COOKIE}=`)) ?? "";
    };
    return { app, store, pending, start, advance: (ms: number) => (now += ms) };
  };

  it("names the sign-in with a 256-bit random id in an HttpOnly, SameSite=Lax cookie of ten minutes", async () => {
    const { start } = setup();
    const line = await start();
    expect(line).toMatch(
      /^latch_signin=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=600; Secure$/,
    );
    expect(await setup(false).start()).not.toContain("Secure");
  });

  it("is taken by one callback only; a replay finds nothing", async () => {
    const { app, start } = setup();
    const cookie = (await start()).split(";")[0]!;
    const finish = async () => (await app.inject({ url: "/finish", headers: { cookie } })).json();
    expect(await finish()).toEqual({ data: { state: "s1", nonce: "n1", verifier: "v1" } });
    expect(await finish()).toEqual({ refused: SIGN_IN_NOT_FOUND });
    expect((await app.inject({ url: "/finish" })).json()).toEqual({ refused: SIGN_IN_NOT_FOUND });
  });

  it("is refused with a clear message once expired, and is gone after", async () => {
    const { app, start, advance } = setup();
    const cookie = (await start()).split(";")[0]!;
    advance(PENDING_SIGN_IN_TTL_MS);
    expect((await app.inject({ url: "/finish", headers: { cookie } })).json()).toEqual({
      refused: SIGN_IN_EXPIRED,
    });
    expect(SIGN_IN_EXPIRED).toMatch(/expired.*10 minutes/);
    expect((await app.inject({ url: "/finish", headers: { cookie } })).json()).toEqual({
      refused: SIGN_IN_NOT_FOUND,
    });
  });

  it("is refused at another provider's callback (and used up there)", async () => {
    const { app, start } = setup();
    const cookie = (await start()).split(";")[0]!;
    expect((await app.inject({ url: "/finish?provider=other", headers: { cookie } })).json()).toEqual({
      refused: SIGN_IN_NOT_FOUND,
    });
    expect((await app.inject({ url: "/finish", headers: { cookie } })).json().refused).toBe(
      SIGN_IN_NOT_FOUND,
    );
  });

  it("refuses a new sign-in when too many are in progress", async () => {
    const { pending, store } = setup();
    const item = {
      kind: "saml" as const,
      provider: "p",
      data: {},
      createdAt: 1_000_000,
      expiresAt: 2_000_000,
    };
    for (let i = 0; i < 10_000; i++) await store.save(String(i).padStart(64, "0"), item, 10_000);
    await expect(pending.startSaml("_request", "p", { returnTo: "/console/" })).rejects.toBeInstanceOf(
      TooManyPendingSignIns,
    );
  });

  it("logs a refused sign-in's error by name and message only, never its cause (openid-client's holds the nonce)", () => {
    const error = Object.assign(
      new Error('unexpected ID Token "nonce" claim value', {
        cause: { expected: "the-nonce-secret", claims: { nonce: "other" } },
      }),
      { code: "OAUTH_JWT_CLAIM_COMPARISON_FAILED" },
    );
    expect(loggable(error)).toEqual({
      type: "Error",
      message: 'unexpected ID Token "nonce" claim value',
      code: "OAUTH_JWT_CLAIM_COMPARISON_FAILED",
    });
    expect(JSON.stringify(loggable(error))).not.toContain("the-nonce-secret");
  });
});
