/**
 * Calls to the admin API. Two ways in: the console's sign-in cookie (HttpOnly, so this code never sees it;
 * state-changing calls echo the CSRF token the API gave with /api/me), or a pasted token kept in this tab's
 * sessionStorage and sent as a bearer header (headless setups).
 */
const TOKEN_KEY = "latch.adminToken";
let csrf: string | undefined;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function pastedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function usePastedToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}
export function useCsrf(token: string | undefined): void {
  csrf = token;
}

function headers(method: string, body: boolean): Record<string, string> {
  const out: Record<string, string> = { accept: "application/json" };
  const token = pastedToken();
  if (token !== null) out.authorization = `Bearer ${token}`;
  if (method !== "GET" && csrf !== undefined) out["x-csrf-token"] = csrf;
  if (body) out["content-type"] = "application/json";
  return out;
}

export async function api<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: headers(method, body !== undefined),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === "" ? {} : JSON.parse(text);
  } catch {
    throw new ApiError(response.status, "bad_response", `the admin API answered ${response.status}`);
  }
  if (!response.ok) {
    const error = parsed as { error?: string; message?: string };
    throw new ApiError(response.status, error.error ?? "error", error.message ?? `HTTP ${response.status}`);
  }
  return parsed as T;
}

export const get = <T>(path: string) => api<T>("GET", path);

/**
 * Server-sent events over fetch (EventSource cannot send the bearer header). Calls `onEvent` per event until
 * `signal` aborts; reconnects after a dropped stream, backing off to 10 s.
 */
export async function stream(
  path: string,
  onEvent: (type: string, data: string) => void,
  signal: AbortSignal,
  onState: (connected: boolean) => void,
): Promise<void> {
  let delay = 500;
  while (!signal.aborted) {
    try {
      const response = await fetch(path, {
        headers: headers("GET", false),
        credentials: "same-origin",
        signal,
      });
      if (!response.ok || response.body === null) throw new Error(`HTTP ${response.status}`);
      onState(true);
      delay = 500;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let type = "message";
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) type = line.slice(7);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
          }
          if (data.length > 0) onEvent(type, data.join("\n"));
          end = buffer.indexOf("\n\n");
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    onState(false);
    await new Promise((resolve) => window.setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 10_000);
  }
}
