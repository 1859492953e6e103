import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadOrCreateHostKey } from "../../src/protocols/ssh/host-key.js";
import { startBrowser, type TestBrowser } from "../support/browser.js";
import { type OpenSshClient, openSshClient } from "../support/openssh-client.js";
import { SSHD_USER, startSshd, type TestSshd } from "../support/sshd.js";
import { startTestGateway, type TestGateway } from "../support/test-gateway.js";

/**
 * SSH sessions in the console, in a real browser: an admin replays a recorded command's terminal output with
 * asciinema-player, and kills a live session from its page (the OpenSSH client sees it end).
 */

const POLICY = `
permit(principal in Group::"ops", action == Action::"ssh:exec", resource)
when { context.command like "sleep *" || context.command like "echo *" };
`;

let sshd: TestSshd;
let gw: TestGateway;
let browser: TestBrowser;
let ssh: OpenSshClient;
let adminToken: string;

beforeAll(async () => {
  sshd = await startSshd();
  gw = await startTestGateway(undefined, {
    policy: POLICY,
    overrides: {
      listen: { admin: "127.0.0.1:0", ssh: "127.0.0.1:0" },
      identity: { dev_issuer: true, admin_groups: ["admins"] },
      connections: {
        "web-1": {
          type: "ssh",
          upstream: `ssh://${SSHD_USER}@127.0.0.1:${sshd.port}`,
          private_key: { file: sshd.userKeyFile },
          host_key: sshd.hostKeyLine,
        },
      },
    },
  });
  adminToken = await gw.token("root-admin", ["admins"]);
  ssh = await openSshClient({
    dir: gw.dataDir,
    port: gw.gateway.sshAddress!.port,
    hostKeyLine: loadOrCreateHostKey(gw.dataDir).publicLine,
    token: await gw.token("deploy-bot", ["ops"]),
  });
  browser = await startBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await gw?.stop();
  await sshd?.stop();
});

async function signIn() {
  const page = await browser.page();
  await page.goto(`${gw.adminUrl}/console/sessions`);
  await page.getByLabel("Token").fill(adminToken);
  await page.getByRole("button", { name: "Sign in with token" }).click();
  await page.getByRole("heading", { name: "Sessions" }).waitFor();
  return page;
}

describe("console: SSH sessions in a real browser", () => {
  it("replays a recorded command's output in the browser", async () => {
    const ran = await ssh.run("web-1", "echo hello-from-the-replay");
    expect(ran.code).toBe(0);
    await gw.gateway.flushAudit();
    const page = await signIn();
    await page.getByRole("row").filter({ hasText: "deploy-bot" }).getByRole("link").first().click();
    await page.getByRole("heading", { name: "exec: echo hello-from-the-replay" }).waitFor();
    // The timeline tells the command's story in words, not JSON.
    await page.getByText("Allowed: ssh:exec").waitFor();
    expect(await page.locator(".timeline").textContent()).not.toMatch(/[{}]"/);
    await page.locator(".player .ap-player").click();
    await page.locator(".player").getByText("hello-from-the-replay").waitFor();
    await browser.screenshot(page, "ssh-replay");
    await page.close();
  });

  it("kills a live session from its page; the ssh client sees it end", async () => {
    const running = ssh.run("web-1", "sleep 60");
    let id: string | undefined;
    while (id === undefined) {
      id = gw.gateway.sessions.list().find((s) => s.subject === "deploy-bot")?.id;
      if (id === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const page = await signIn();
    page.on("dialog", (dialog) => void dialog.accept());
    await page.goto(`${gw.adminUrl}/console/sessions/${id}`);
    await page.getByText("live", { exact: true }).waitFor();
    await browser.screenshot(page, "ssh-live-session");
    await page.getByRole("button", { name: "Kill session" }).click();
    const ended = await running;
    expect(ended.hung).toBe(false);
    expect(ended.code).not.toBe(0);
    await page.getByText(/Session killed by root-admin/).waitFor();
    await page.close();
  });

  it("the pages broke no CSP rule and threw nothing", () => {
    expect(browser.problems).toEqual([]);
  });
});
