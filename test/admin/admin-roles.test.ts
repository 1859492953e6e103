import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.js";

/**
 * The roles the admin API enforces (the console only hides what these refuse): any signed-in identity reaches
 * the approval routes and /api/me; auditors also read sessions, live sessions, the block list and the audit
 * log; only admins kill, block, unblock and reload.
 */

let gw: TestGateway;
const tokens: Record<"admin" | "auditor" | "approver", string> = { admin: "", auditor: "", approver: "" };

beforeAll(async () => {
  gw = await startTestGateway(undefined, {
    overrides: { identity: { dev_issuer: true, admin_groups: ["ops"], auditor_groups: ["audit"] } },
  });
  tokens.admin = await gw.token("root", ["ops"]);
  tokens.auditor = await gw.token("ann", ["audit"]);
  tokens.approver = await gw.token("alice", ["dba"]);
}, 60_000);
afterAll(async () => gw?.stop());

async function status(method: string, path: string, who: keyof typeof tokens | undefined) {
  const response = await fetch(`${gw.adminUrl}${path}`, {
    method,
    redirect: "manual",
    headers: {
      ...(who === undefined ? {} : { authorization: `Bearer ${tokens[who]}` }),
      ...(method === "POST" ? { "content-type": "application/json" } : {}),
    },
    ...(method === "POST" ? { body: "{}" } : {}),
  });
  await response.arrayBuffer();
  return response.status;
}

const READS = [
  "/api/sessions",
  "/api/sessions/live",
  "/api/audit",
  "/api/audit/verify",
  "/api/principals/blocked",
];
const ADMIN_ONLY: [string, string][] = [
  ["POST", "/api/principals/mallory/block"],
  ["DELETE", "/api/principals/mallory/block"],
  ["DELETE", "/api/sessions/no-such-session"],
  ["POST", "/api/policies/reload"],
];

describe("admin API roles", () => {
  it("lets every signed-in identity ask who it is, and says which roles it has", async () => {
    const me = async (who: keyof typeof tokens) =>
      (await (
        await fetch(`${gw.adminUrl}/api/me`, { headers: { authorization: `Bearer ${tokens[who]}` } })
      ).json()) as { subject: string; roles: Record<string, boolean> };
    expect(await me("admin")).toMatchObject({ subject: "root", roles: { admin: true, read: true } });
    expect(await me("auditor")).toMatchObject({ roles: { admin: false, auditor: true, read: true } });
    expect(await me("approver")).toMatchObject({ roles: { admin: false, auditor: false, read: false } });
    expect(await status("GET", "/api/me", undefined)).toBe(401);
  });

  it("approvers reach the approval routes but not sessions or audit", async () => {
    expect(await status("GET", "/api/requests", "approver")).toBe(200);
    expect(await status("GET", "/api/grants", "approver")).toBe(200);
    for (const path of READS) expect([path, await status("GET", path, "approver")]).toEqual([path, 403]);
  });

  it("auditors read sessions and audit but cannot kill, block, unblock or reload", async () => {
    for (const path of READS) expect([path, await status("GET", path, "auditor")]).toEqual([path, 200]);
    for (const [method, path] of ADMIN_ONLY)
      expect([path, await status(method, path, "auditor")]).toEqual([path, 403]);
    expect(await status("POST", "/api/principals/mallory/block", "approver")).toBe(403);
  });

  it("admins do all of it", async () => {
    for (const path of READS) expect([path, await status("GET", path, "admin")]).toEqual([path, 200]);
    expect(await status("POST", "/api/principals/mallory/block", "admin")).toBe(200);
    expect(await status("DELETE", "/api/principals/mallory/block", "admin")).toBe(200);
    expect(await status("DELETE", "/api/sessions/no-such-session", "admin")).toBe(404);
  });
});

describe("the built console", () => {
  it("is served under /console/ with a strict CSP, for every app route, with no inline script", async () => {
    expect(await status("GET", "/", undefined)).toBe(302);
    for (const path of ["/console/", "/console/requests/req_abc", "/console/sessions/s1"]) {
      const response = await fetch(`${gw.adminUrl}${path}`);
      expect(response.status, "run `npm run build` first: it builds the console into dist/console").toBe(200);
      const csp = response.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).toContain("frame-ancestors 'none'");
      const html = await response.text();
      const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attributes, body] of scripts) {
        expect(attributes).toMatch(/src="\/console\/assets\//);
        expect(body).toBe("");
      }
      expect(html).not.toMatch(/\sstyle=|\son[a-z]+=/i);
    }
    expect(await status("GET", "/console/assets/missing.js", undefined)).toBe(404);
  });
});
