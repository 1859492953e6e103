import { createHash } from "node:crypto";
import { createContext, Script } from "node:vm";
import { describe, expect, it, vi } from "vitest";
import { CONSOLE_CSP, consolePage } from "../../src/admin/console-page.js";
import { FakeDocument, type FakeElement, FakeStorage, FakeWindow } from "./fake-dom.js";

const page = consolePage();
const scriptTags = [...page.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
const script = scriptTags[0]?.[2] ?? "";
const TOKEN_KEY = "latch.adminToken";

describe("console page: static checks", () => {
  it("is one complete HTML document with exactly one inline script", () => {
    expect(page.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(page.trimEnd().endsWith("</html>")).toBe(true);
    for (const tag of ["<head>", "</head>", "<body>", "</body>", '<meta charset="utf-8">', "<title>"]) {
      expect(page).toContain(tag);
    }
    expect(scriptTags).toHaveLength(1);
    expect(scriptTags[0]?.[1]).toBe(""); // inline, no src
    expect(script.length).toBeGreaterThan(1000);
  });

  it("loads nothing from anywhere (works offline)", () => {
    expect(page).not.toMatch(/https?:\/\//i);
    // Attributes in the markup and properties set by the script: only fragments, same-origin paths, data:.
    for (const [, value] of page.matchAll(/\b(?:src|href|action)\s*=\s*"([^"]*)"/gi)) {
      expect(value).toMatch(/^(#|\/(?!\/)|data:)/);
    }
    for (const [, value] of script.matchAll(/\.(?:src|href|action)\s*=\s*([^;]+);/g)) {
      expect(value).toMatch(/^"#/);
    }
    expect(page).not.toMatch(/@import|url\(|<link[^>]+stylesheet|<iframe|<img|<object|<embed/i);
    expect(script).not.toMatch(/\bfetch\(\s*["'](?!\/)/); // every fetch goes to this listener
  });

  it("never turns data into markup or code", () => {
    const innerHtml = [...script.matchAll(/innerHTML\s*(\+?=)?\s*([^;\n]*)/g)];
    for (const [, assignment, value] of innerHtml) {
      expect(assignment).toBe("=");
      expect(value?.trim()).toBe('""');
    }
    expect(script).not.toMatch(
      /outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|DOMParser/,
    );
    expect(script).not.toMatch(/setTimeout\(\s*["']/);
  });

  it("compiles, and the compile check catches a syntax error", () => {
    expect(() => new Script(script, { filename: "console-script.js" })).not.toThrow();
    const broken = script.replace(/\}\)\(\);\s*$/, "})(;");
    expect(broken).not.toBe(script);
    expect(() => new Script(broken)).toThrow(SyntaxError);
  });

  it("pins the script in its Content-Security-Policy", () => {
    const hash = createHash("sha256").update(script, "utf8").digest("base64");
    expect(page).toContain(`<meta http-equiv="Content-Security-Policy" content="${CONSOLE_CSP}">`);
    expect(CONSOLE_CSP).toContain(`script-src 'sha256-${hash}'`);
    expect(CONSOLE_CSP).toMatch(/default-src 'none'/);
    expect(CONSOLE_CSP).toMatch(/connect-src 'self'/);
  });
});

// --- running the script against a fake DOM and a fake admin API --------------------------------------------

interface Answer {
  readonly status: number;
  readonly body: unknown;
}
interface Request {
  readonly path: string;
  readonly authorization: string | undefined;
}

const EVIL = `<img src=x onerror="alert(1)"><script>steal()</script>'; DROP TABLE users; --`;
const T0 = "2025-03-04T10:00:00.000Z";
const hashes = { prevHash: "0".repeat(64), hash: "a".repeat(64) };
const SESSION = {
  id: "s-1",
  protocol: "postgres",
  connection: "analytics",
  subject: EVIL,
  groups: ["agents", "oncall"],
  clientAddress: "127.0.0.1:50000",
  startedAt: T0,
  endedAt: null,
  endReason: null,
  operations: 3,
  denied: 1,
};
const statement = (text: string, verb: string, tablesRead: string[], tablesWritten: string[]) => ({
  text,
  verb,
  tablesRead,
  tablesWritten,
});
const EVENTS = [
  { seq: 1, kind: "session_start", data: { ...SESSION, issuer: "dev", clientUser: "agent", tls: true } },
  {
    seq: 2,
    kind: "operation",
    data: {
      operationId: "op-1",
      mode: "simple",
      statements: [statement("SELECT * FROM users", "select", ["public.users"], [])],
      verdict: { decision: "allow", rules: ["policy0"], reason: "" },
    },
  },
  {
    seq: 3,
    kind: "operation",
    data: {
      operationId: "op-2",
      mode: "simple",
      statements: [statement(EVIL, "delete", [], ["public.payments"])],
      verdict: { decision: "deny", rules: ["policy1"], reason: "forbidden by policy1" },
    },
  },
  // op-1's result arrives after op-2: pairing is by operationId, not by position.
  {
    seq: 4,
    kind: "operation_result",
    data: { operationId: "op-1", durationMs: 4.2, rows: 42, commandTags: ["SELECT 42"] },
  },
  {
    seq: 5,
    kind: "operation",
    data: {
      operationId: "op-3",
      mode: "extended",
      statements: [statement("UPDATE t SET a = $1", "update", [], ["public.t"])],
      parameters: [["1"], [null]],
      verdict: { decision: "approval", rules: ["policy2"], reason: "approved by bob" },
    },
  },
  {
    seq: 6,
    kind: "operation_result",
    data: {
      operationId: "op-3",
      durationMs: 1,
      rows: 0,
      commandTags: [],
      error: { code: "42P01", message: "no t" },
    },
  },
  { seq: 7, kind: "session_end", data: { reason: "client_terminated" } },
].map((event, index) => ({
  ...event,
  ...hashes,
  sessionId: "s-1",
  ts: new Date(Date.parse(T0) + index).toISOString(),
}));

const HEALTHY: Answer = { status: 200, body: { status: "ok", store: "ok", policies: 2, sessions: 1 } };

function defaultAnswers(path: string): Answer {
  if (path === "/healthz") return HEALTHY;
  if (path.startsWith("/api/sessions?")) return { status: 200, body: { sessions: [SESSION] } };
  if (path === "/api/sessions/s-1") return { status: 200, body: { session: SESSION, events: EVENTS } };
  if (path.startsWith("/api/audit?")) return { status: 200, body: { events: EVENTS } };
  if (path === "/api/audit/verify")
    return { status: 200, body: { ok: true, events: 7, head: { seq: 7, hash: "ab".repeat(32) } } };
  return { status: 404, body: { error: "not_found", message: `no route ${path}` } };
}

function runConsole(options: { token?: string; answer?: (path: string) => Answer | undefined } = {}) {
  const document = new FakeDocument(page);
  const window = new FakeWindow();
  const sessionStorage = new FakeStorage();
  if (options.token !== undefined) sessionStorage.setItem(TOKEN_KEY, options.token);
  const requests: Request[] = [];
  const intervals: { run: () => void; ms: number; cleared: boolean }[] = [];
  const fetch = async (path: string, init?: { headers?: Record<string, string> }) => {
    requests.push({ path, authorization: init?.headers?.Authorization });
    const { status, body } = options.answer?.(path) ?? defaultAnswers(path);
    return { ok: status >= 200 && status < 300, status, json: async () => body };
  };
  const context = createContext({
    document,
    window,
    location: window.location,
    sessionStorage,
    fetch,
    URLSearchParams,
    setTimeout,
    clearTimeout,
    setInterval: (run: () => void, ms: number) => intervals.push({ run, ms, cleared: false }),
    clearInterval: (id: number) => {
      const interval = intervals[id - 1];
      if (interval !== undefined) interval.cleared = true;
    },
  });
  new Script(script, { filename: "console-script.js" }).runInContext(context);
  const byId = (id: string) => document.getElementById(id);
  const liveIntervals = () => intervals.filter((interval) => !interval.cleared);
  return { document, window, sessionStorage, requests, byId, liveIntervals };
}

const rowsOf = (body: FakeElement) =>
  body.children.filter((child): child is FakeElement => typeof child !== "string");
const withClass = (root: FakeElement, name: string) =>
  root.findAll((element) => element.className.split(" ").includes(name));

describe("console page: behaviour", () => {
  it("without a token asks for one and only reads /healthz", async () => {
    const ui = runConsole();
    expect(ui.byId("login").hidden).toBe(false);
    expect(ui.byId("app").hidden).toBe(true);
    await vi.waitFor(() =>
      expect(ui.byId("health").textContent).toBe("healthy · 2 policies · 1 live sessions"),
    );
    expect(ui.requests.map((request) => request.path)).toEqual(["/healthz"]);
    expect(ui.liveIntervals()).toHaveLength(0);
  });

  it("signs in, sends the bearer token and lists sessions as text", async () => {
    const ui = runConsole();
    ui.byId("token-input").value = "  tok-1 ";
    expect(ui.byId("login-form").dispatch("submit").defaultPrevented).toBe(true);
    expect(ui.sessionStorage.getItem(TOKEN_KEY)).toBe("tok-1");
    expect(ui.byId("token-input").value).toBe("");
    await vi.waitFor(() => expect(rowsOf(ui.byId("sessions-body"))).toHaveLength(1));
    const list = ui.requests.find((request) => request.path.startsWith("/api/sessions?"));
    expect(list).toEqual({ path: "/api/sessions?limit=200", authorization: "Bearer tok-1" });
    const row = rowsOf(ui.byId("sessions-body"))[0]!;
    expect(row.textContent).toContain(EVIL); // verbatim text, never parsed as markup
    expect(row.textContent).toContain("agents, oncall");
    expect(row.textContent).toContain("analytics (postgres)");
    expect(withClass(row, "denied").map((cell) => cell.textContent)).toEqual(["1"]);
    expect(withClass(row, "status").map((cell) => cell.textContent)).toEqual(["active"]);
    expect(ui.document.createdTags).not.toContain("img");
    expect(ui.document.createdTags).not.toContain("script");
    expect(ui.liveIntervals().map((interval) => interval.ms)).toEqual([5000]);
  });

  it("passes the session filters as query parameters", async () => {
    const ui = runConsole({ token: "tok" });
    await vi.waitFor(() => expect(rowsOf(ui.byId("sessions-body"))).toHaveLength(1));
    ui.byId("filter-subject").value = "alice@example.com";
    ui.byId("filter-active").value = "false";
    ui.byId("filter-active").dispatch("input");
    await vi.waitFor(() =>
      expect(ui.requests.map((request) => request.path)).toContain(
        "/api/sessions?limit=200&subject=alice%40example.com&active=false",
      ),
    );
  });

  it("shows a session timeline pairing operations with their results", async () => {
    const ui = runConsole({ token: "tok" });
    await vi.waitFor(() => expect(rowsOf(ui.byId("sessions-body"))).toHaveLength(1));
    rowsOf(ui.byId("sessions-body"))[0]!.dispatch("click");
    await vi.waitFor(() => expect(rowsOf(ui.byId("timeline"))).toHaveLength(5)); // results folded into operations
    expect(ui.requests.at(-1)?.path).toBe("/api/sessions/s-1");
    expect(ui.byId("sessions-view").hidden).toBe(true);
    expect(ui.byId("session-view").hidden).toBe(false);
    const [start, allowed, denied, approved, end] = rowsOf(ui.byId("timeline")) as FakeElement[];
    expect(start!.textContent).toContain("as agent, TLS");
    expect(withClass(allowed!, "badge").map((badge) => badge.className)).toEqual(["badge allow"]);
    expect(allowed!.textContent).toContain("42 rows · 4.2 ms · SELECT 42");
    expect(allowed!.textContent).toContain("select · reads public.users");
    expect(withClass(denied!, "badge")[0]?.className).toBe("badge deny");
    expect(withClass(denied!, "sql")[0]?.textContent).toBe(EVIL);
    expect(denied!.textContent).toContain("forbidden by policy1 [policy1]");
    expect(denied!.textContent).toContain("writes public.payments");
    expect(denied!.textContent).toContain("not forwarded");
    expect(withClass(approved!, "badge")[0]?.className).toBe("badge approval");
    expect(withClass(approved!, "error-text")[0]?.textContent).toBe("error 42P01: no t");
    expect(approved!.textContent).toContain("parameters (1) (NULL)");
    expect(end!.textContent).toContain("reason: client_terminated");
    expect(ui.byId("session-summary").textContent).toContain("3 (1 denied)");

    ui.byId("denied-only").checked = true;
    ui.byId("denied-only").dispatch("change");
    expect(rowsOf(ui.byId("timeline"))).toHaveLength(1);
    expect(withClass(ui.byId("timeline"), "sql").map((pre) => pre.textContent)).toEqual([EVIL]);
  });

  it("401: says the token was rejected, forgets it and stops refreshing", async () => {
    const ui = runConsole({
      token: "old",
      answer: (path) =>
        path.startsWith("/api/")
          ? { status: 401, body: { error: "unauthorized", message: "token expired" } }
          : undefined,
    });
    await vi.waitFor(() => expect(ui.byId("login-error").textContent).toBe("token rejected: token expired"));
    expect(ui.byId("login").hidden).toBe(false);
    expect(ui.byId("app").hidden).toBe(true);
    expect(ui.sessionStorage.getItem(TOKEN_KEY)).toBeNull();
    expect(ui.liveIntervals()).toHaveLength(0);
  });

  it("403: names the group that is needed", async () => {
    const message = "the admin API needs one of the groups latch-admins";
    const ui = runConsole({
      token: "not-admin",
      answer: (path) =>
        path.startsWith("/api/") ? { status: 403, body: { error: "forbidden", message } } : undefined,
    });
    await vi.waitFor(() => expect(ui.byId("login-error").textContent).toBe(`needs group: ${message}`));
  });

  it("other errors show the API's message and keep the session signed in", async () => {
    const ui = runConsole({
      token: "tok",
      answer: (path) =>
        path.startsWith("/api/sessions?")
          ? { status: 400, body: { error: "bad_request", message: "limit: Too big" } }
          : path === "/healthz"
            ? { status: 503, body: { status: "unhealthy", store: "unavailable" } }
            : undefined,
    });
    await vi.waitFor(() => expect(ui.byId("error").textContent).toBe("limit: Too big"));
    expect(ui.byId("error").hidden).toBe(false);
    expect(ui.byId("app").hidden).toBe(false);
    expect(ui.byId("health").textContent).toBe("unhealthy · store unavailable");
    expect(ui.byId("health").className).toBe("health bad");
  });

  it("audit tab: filters, pages forward and verifies the chain", async () => {
    const page200 = Array.from({ length: 200 }, (_, index) => ({ ...EVENTS[2]!, seq: index + 1 }));
    let verification: unknown = { ok: false, events: 7, firstBadSeq: 5, problem: "hash mismatch" };
    const ui = runConsole({
      token: "tok",
      answer: (path) =>
        path.startsWith("/api/audit?")
          ? { status: 200, body: { events: path.includes("after=") ? EVENTS : page200 } }
          : path === "/api/audit/verify"
            ? { status: 200, body: verification }
            : undefined,
    });
    ui.window.location.hash = "audit";
    await vi.waitFor(() => expect(rowsOf(ui.byId("audit-body"))).toHaveLength(200));
    expect(ui.byId("tab-audit").className).toBe("tab active");
    const first = rowsOf(ui.byId("audit-body"))[0]!;
    expect(withClass(first, "badge")[0]?.className).toBe("badge deny");
    expect(first.textContent).toContain(EVIL);
    expect(ui.byId("audit-page").textContent).toBe("seq 1–200");

    expect(ui.byId("audit-next").disabled).toBe(false);
    ui.byId("audit-next").dispatch("click");
    await vi.waitFor(() => expect(rowsOf(ui.byId("audit-body"))).toHaveLength(EVENTS.length));
    expect(ui.requests.at(-1)?.path).toBe("/api/audit?limit=200&after=200");
    expect(ui.byId("audit-next").disabled).toBe(true);

    ui.byId("audit-text").value = "drop table";
    ui.byId("audit-decision").value = "deny";
    ui.byId("audit-decision").dispatch("input");
    await vi.waitFor(() =>
      expect(ui.requests.at(-1)?.path).toBe("/api/audit?limit=200&text=drop+table&decision=deny"),
    );

    ui.byId("verify-button").dispatch("click");
    await vi.waitFor(() =>
      expect(ui.byId("verify-result").textContent).toBe("BROKEN at seq 5: hash mismatch"),
    );
    expect(ui.byId("verify-result").className).toBe("verify broken");
    verification = { ok: true, events: 7, head: { seq: 7, hash: "ab".repeat(32) } };
    ui.byId("verify-button").dispatch("click");
    await vi.waitFor(() => expect(ui.byId("verify-result").className).toBe("verify ok"));
    expect(ui.byId("verify-result").textContent).toBe("OK · 7 events · head 7:abababababababab");
  });

  it("auto-refresh reloads the current view every 5 s, and can be turned off; sign out forgets the token", async () => {
    const ui = runConsole({ token: "tok" });
    await vi.waitFor(() => expect(rowsOf(ui.byId("sessions-body"))).toHaveLength(1));
    const before = ui.requests.filter((request) => request.path.startsWith("/api/sessions?")).length;
    ui.liveIntervals()[0]!.run();
    await vi.waitFor(() =>
      expect(ui.requests.filter((request) => request.path.startsWith("/api/sessions?"))).toHaveLength(
        before + 1,
      ),
    );

    ui.byId("auto-refresh").checked = false;
    ui.byId("auto-refresh").dispatch("change");
    expect(ui.liveIntervals()).toHaveLength(0);
    ui.byId("auto-refresh").checked = true;
    ui.byId("auto-refresh").dispatch("change");
    expect(ui.liveIntervals()).toHaveLength(1);

    expect(ui.byId("sign-out").dispatch("click").defaultPrevented).toBe(true);
    expect(ui.sessionStorage.getItem(TOKEN_KEY)).toBeNull();
    expect(ui.byId("login").hidden).toBe(false);
    expect(ui.byId("login-error").textContent).toBe("signed out");
    expect(ui.liveIntervals()).toHaveLength(0);
  });
});
