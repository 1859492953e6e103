import type { Command } from "commander";
import type { ApprovalRequest } from "../../approvals/approval-types.js";
import { previewLines } from "../../approvals/preview-text.js";
import { type AdminClientOptions, adminGet, printTable, withAdminOptions } from "../admin-client.js";

type Json = { json?: boolean };

export function registerRequestsCommands(program: Command): void {
  const requests = program
    .command("requests")
    .description("approval requests: list, decide, watch, ask up front");

  withAdminOptions(
    requests
      .command("list")
      .description("approval requests you asked for or may decide, newest first")
      .option("--state <state>", "pending, approved, denied, expired or abandoned")
      .option("--limit <n>", "how many", "50"),
  ).action(async (options: AdminClientOptions & Json & { state?: string; limit?: string }) => {
    const query = new URLSearchParams({ limit: options.limit ?? "50" });
    if (options.state) query.set("state", options.state);
    const { requests: list } = await adminGet<{ requests: ApprovalRequest[] }>(
      options,
      `/api/requests?${query}`,
    );
    if (options.json) return printJson(list);
    printTable(
      ["ID", "STATE", "REQUESTER", "CONNECTION", "GROUP", "VOTES", "EXPIRES", "WHAT"],
      list.map((r) => [
        r.id,
        r.state,
        r.requester,
        r.connection,
        r.group,
        `${approvals(r)}/${r.quorum}`,
        iso(r.expiresAt),
        what(r),
      ]),
    );
  });

  withAdminOptions(
    requests.command("show").description("one request with its votes").argument("<id>", "request id"),
  ).action(async (id: string, options: AdminClientOptions & Json) => {
    const { request } = await adminGet<{ request: ApprovalRequest }>(
      options,
      `/api/requests/${encodeURIComponent(id)}`,
    );
    if (options.json) return printJson(request);
    process.stdout.write(describeRequest(request));
  });

  withAdminOptions(
    requests
      .command("approve")
      .description("approve with your own token; --for turns the approval into a time-bound grant")
      .argument("<id>", "request id")
      .option("--reason <text>", "why you approve")
      .option("--for <duration>", "grant this kind of action on this resource for a while, e.g. 30m"),
  ).action(async (id: string, options: AdminClientOptions & Json & { reason?: string; for?: string }) => {
    const body = {
      ...(options.reason ? { reason: options.reason } : {}),
      ...(options.for ? { for: options.for } : {}),
    };
    const { request } = await adminSend<{ request: ApprovalRequest }>(
      options,
      "POST",
      `/api/requests/${encodeURIComponent(id)}/approve`,
      body,
    );
    if (options.json) return printJson(request);
    process.stdout.write(
      `request ${request.id}: ${request.state} (${approvals(request)}/${request.quorum} approvals)${request.grantId ? `, grant ${request.grantId}` : ""}\n`,
    );
  });

  withAdminOptions(
    requests
      .command("deny")
      .description("deny (final)")
      .argument("<id>", "request id")
      .requiredOption("--reason <text>", "why"),
  ).action(async (id: string, options: AdminClientOptions & Json & { reason: string }) => {
    const { request } = await adminSend<{ request: ApprovalRequest }>(
      options,
      "POST",
      `/api/requests/${encodeURIComponent(id)}/deny`,
      { reason: options.reason },
    );
    if (options.json) return printJson(request);
    process.stdout.write(`request ${request.id}: ${request.state}\n`);
  });

  withAdminOptions(
    requests
      .command("create")
      .description("ask for access before you need it (approval becomes a grant)")
      .requiredOption("--connection <name>", "connection")
      .requiredOption("--action <action...>", "action(s), e.g. sql:update")
      .option("--resource <name...>", "table(s), Function:schema.name, or Connection (default)")
      .requiredOption("--reason <text>", "why you need it")
      .option("--for <duration>", "how long, e.g. 30m"),
  ).action(
    async (
      options: AdminClientOptions &
        Json & { connection: string; action: string[]; resource?: string[]; reason: string; for?: string },
    ) => {
      const body = {
        connection: options.connection,
        actions: options.action,
        ...(options.resource ? { resources: options.resource } : {}),
        reason: options.reason,
        ...(options.for ? { for: options.for } : {}),
      };
      const { request } = await adminSend<{ request: ApprovalRequest }>(
        options,
        "POST",
        "/api/requests",
        body,
      );
      if (options.json) return printJson(request);
      process.stdout.write(
        `request ${request.id} created: needs ${request.quorum} of group ${request.group}, expires ${iso(request.expiresAt)}\n`,
      );
    },
  );

  withAdminOptions(
    requests.command("watch").description("stream request updates as they happen (Ctrl-C to stop)"),
  ).action(async (options: AdminClientOptions & Json) => {
    for await (const event of adminStream(options, "/api/requests/stream")) {
      if (event.type !== "request") continue;
      const request = JSON.parse(event.data) as ApprovalRequest;
      if (options.json) process.stdout.write(`${JSON.stringify(request)}\n`);
      else
        process.stdout.write(
          `${new Date().toISOString().slice(11, 19)}  ${request.id}  ${request.state.padEnd(9)}  ${request.requester} on ${request.connection}: ${what(request)}\n`,
        );
    }
  });
}

/** POST/DELETE with a JSON body to the admin API, with the same token and error handling as adminGet. */
export async function adminSend<T>(
  options: AdminClientOptions,
  method: "POST" | "DELETE",
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await adminFetch(options, path, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  const parsed = (await response.json().catch(() => ({}))) as { message?: string };
  if (!response.ok)
    throw new Error(`${response.status} from the gateway: ${parsed.message ?? response.statusText}`);
  return parsed as T;
}

/** Server-sent events from the admin API, one `{type, data}` per event. */
export async function* adminStream(
  options: AdminClientOptions,
  path: string,
): AsyncGenerator<{ type: string; data: string }> {
  const response = await adminFetch(options, path, { headers: { accept: "text/event-stream" } });
  if (!response.ok || response.body === null)
    throw new Error(`${response.status} from the gateway: ${response.statusText}`);
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) type = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      if (data.length > 0) yield { type, data: data.join("\n") };
      end = buffer.indexOf("\n\n");
    }
  }
}

async function adminFetch(options: AdminClientOptions, path: string, init: RequestInit): Promise<Response> {
  const token = options.token ?? process.env.LATCH_TOKEN;
  if (token === undefined || token === "")
    throw new Error("no token: pass --token or set LATCH_TOKEN (your own OIDC token)");
  const base = options.server ?? "http://127.0.0.1:8080";
  const headers = {
    ...(init.headers as Record<string, string> | undefined),
    authorization: `Bearer ${token}`,
  };
  try {
    return await fetch(new URL(path, base), { ...init, headers });
  } catch (error) {
    throw new Error(
      `cannot reach the gateway at ${base}: ${(error as Error).message}; is \`latch serve\` running?`,
    );
  }
}

function describeRequest(r: ApprovalRequest): string {
  const lines = [
    `request ${r.id} (${r.mode})`,
    `  state       ${r.state}${r.decisionReason ? ` — ${r.decisionReason}` : ""}`,
    `  requester   ${r.requester} (groups: ${r.requesterGroups.join(", ") || "none"})`,
    `  connection  ${r.connection}`,
    `  approvers   ${r.quorum} of group ${r.group}; ${approvals(r)} so far`,
    `  reason      ${r.reason}`,
    `  created     ${iso(r.createdAt)}, expires ${iso(r.expiresAt)}`,
    ...(r.grantId ? [`  grant       ${r.grantId}`] : []),
    ...r.statements.map((text, i) => `  statement ${i + 1} ${text}`),
    ...(r.statements.length === 0 ? [`  accesses    ${r.accesses.join(", ")}`] : []),
    ...r.votes.map(
      (v) => `  vote        ${v.vote} by ${v.approver} at ${iso(v.at)}${v.reason ? `: ${v.reason}` : ""}`,
    ),
    ...(r.preview == null ? [] : previewLines(r.preview).map((line) => `  ${line}`)),
  ];
  return `${lines.join("\n")}\n`;
}

function approvals(r: ApprovalRequest): number {
  return r.votes.filter((vote) => vote.vote === "approve").length;
}

function what(r: ApprovalRequest): string {
  return r.statements.length > 0 ? r.statements.join("; ") : r.accesses.join(", ");
}

function iso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
