import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";

/**
 * The console's strict Content-Security-Policy: scripts and styles only from this listener's own files (no
 * inline script or style, no eval), requests only to this listener. 'wasm-unsafe-eval' lets the SSH replay's
 * terminal emulator (asciinema-player, WebAssembly) compile; it does not allow eval of JavaScript.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".json": "application/json",
  ".map": "application/json",
};

const SECURITY_HEADERS = {
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
};

/**
 * The built console (`npm run build` puts it in dist/console). Found from this module's place: dist/src/admin
 * when compiled, src/admin under tsx; both resolve to the package root's dist/console.
 */
export function defaultConsoleDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, "dist", "console");
}

/**
 * Serves the console under /console/: the files the build wrote, read once at start (a fixed table, so no
 * request path ever reaches the file system), and index.html for every other /console/ path (the app's own
 * routes, e.g. /console/requests/<id> from a notification link). `/` redirects there.
 */
export function registerConsoleAssets(app: FastifyInstance, dir: string): void {
  const files = new Map<string, { body: Buffer; type: string; immutable: boolean }>();
  if (existsSync(dir)) {
    for (const file of listFiles(dir)) {
      const relative = path.relative(dir, file).split(path.sep).join("/");
      files.set(`/console/${relative}`, {
        body: readFileSync(file),
        type: TYPES[path.extname(file)] ?? "application/octet-stream",
        // Vite names built assets by content hash: they never change under the same name.
        immutable: relative.startsWith("assets/"),
      });
    }
  }
  const index = files.get("/console/index.html");

  const sendIndex = (reply: FastifyReply) => {
    reply.headers({ ...SECURITY_HEADERS, "cache-control": "no-store" });
    if (index === undefined)
      return reply
        .code(503)
        .type("text/plain; charset=utf-8")
        .send(`The console is not built: run \`npm run build\` (it writes ${dir}).`);
    return reply.type(index.type).send(index.body);
  };

  app.get("/", async (_request, reply) => reply.redirect("/console/", 302));
  app.get("/console", async (_request, reply) => reply.redirect("/console/", 301));
  app.get("/console/*", async (request, reply) => {
    const pathname = request.url.split("?")[0] ?? "";
    const file = files.get(pathname);
    if (file === undefined || pathname === "/console/index.html") {
      if (pathname.startsWith("/console/assets/"))
        return reply.code(404).send({ error: "not_found", message: `no file ${pathname}` });
      return sendIndex(reply);
    }
    return reply
      .headers({
        ...SECURITY_HEADERS,
        "cache-control": file.immutable ? "public, max-age=31536000, immutable" : "no-cache",
      })
      .type(file.type)
      .send(file.body);
  });
}

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full) : [full];
  });
}
