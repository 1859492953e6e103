import type { Actor } from "../identity/act-claim.js";
import type { ApprovalRequest, ApprovalUpdate, Grant } from "./approval-types.js";
import { previewLines } from "./preview-text.js";

/**
 * The bodies of outgoing notifications: Latch's own JSON, and a Slack incoming-webhook message with links to
 * approve or deny in the console. Pure functions of an update.
 */

export type WebhookFormat = "json" | "slack";

export function eventName(update: ApprovalUpdate): string {
  if (update.type === "request") return `request.${update.request.state}`;
  return update.grant.revokedAt === null ? "grant.created" : "grant.revoked";
}

export function jsonPayload(
  update: ApprovalUpdate,
  deliveryId: string,
  timestamp: number,
  consoleUrl?: string,
): string {
  return JSON.stringify({
    event: eventName(update),
    deliveryId,
    timestamp,
    ...(update.type === "request"
      ? {
          request: summary(update.request),
          ...(consoleUrl ? { links: links(update.request.id, consoleUrl) } : {}),
        }
      : { grant: grantSummary(update.grant) }),
  });
}

export function slackPayload(update: ApprovalUpdate, consoleUrl?: string): string {
  if (update.type === "grant") {
    const grant = update.grant;
    const verb = grant.revokedAt === null ? "created" : `revoked by ${escapeMrkdwn(grant.revokedBy ?? "?")}`;
    return JSON.stringify({
      text: `Latch grant ${grant.id} for ${escapeMrkdwn(grant.principal)} on ${escapeMrkdwn(grant.connection)} ${verb} (until ${iso(grant.expiresAt)})`,
    });
  }
  const request = update.request;
  const head =
    request.state === "pending"
      ? `*Approval needed* from ${request.quorum === 1 ? "one member" : `${request.quorum} members`} of \`${escapeMrkdwn(request.group)}\``
      : `*Request ${request.state}*${request.decisionReason ? `: ${escapeMrkdwn(request.decisionReason)}` : ""}`;
  const what =
    request.statements.length > 0
      ? `\`\`\`${escapeMrkdwn(truncate(request.statements.join(";\n"), 2500)).replaceAll("```", "` ` `")}\`\`\``
      : `Access asked up front: ${request.accesses.map((access) => `\`${escapeMrkdwn(access)}\``).join(", ")}`;
  const blocks: unknown[] = [
    {
      type: "section",
      text: {
        type: "mrkdwn",
        text: `${head}\n*${escapeMrkdwn(request.requester)}* on connection *${escapeMrkdwn(request.connection)}* (request \`${request.id}\`)${actingFor(request)}`,
      },
    },
    { type: "section", text: { type: "mrkdwn", text: what } },
    ...(request.preview == null
      ? []
      : [
          {
            type: "section",
            text: {
              type: "mrkdwn",
              text: `\`\`\`${escapeMrkdwn(truncate(previewLines(request.preview, { planLines: 8 }).join("\n"), 2500)).replaceAll("```", "` ` `")}\`\`\``,
            },
          },
        ]),
    {
      type: "context",
      elements: [
        {
          type: "mrkdwn",
          text: `Reason: ${escapeMrkdwn(truncate(request.reason, 500))} · expires ${iso(request.expiresAt)}`,
        },
      ],
    },
  ];
  if (request.state === "pending" && consoleUrl) {
    const to = links(request.id, consoleUrl);
    blocks.push({
      type: "actions",
      elements: [
        { type: "button", text: { type: "plain_text", text: "Approve" }, style: "primary", url: to.approve },
        { type: "button", text: { type: "plain_text", text: "Deny" }, style: "danger", url: to.deny },
      ],
    });
  }
  return JSON.stringify({ text: `Latch request ${request.id}: ${request.state}`, blocks });
}

function summary(request: ApprovalRequest) {
  return {
    id: request.id,
    state: request.state,
    mode: request.mode,
    connection: request.connection,
    requester: request.requester,
    group: request.group,
    quorum: request.quorum,
    statements: request.statements.map((text) => truncate(text, 8192)),
    accesses: request.accesses,
    reason: request.reason,
    approvals: request.votes.filter((vote) => vote.vote === "approve").map((vote) => vote.approver),
    decisionReason: request.decisionReason,
    expiresAt: iso(request.expiresAt),
    ...(request.preview == null ? {} : { preview: request.preview }),
    // The delegation chain (RFC 8693 act), current actor first, as the request API has it; absent when none.
    ...(request.actors === undefined || request.actors.length === 0
      ? {}
      : { actors: request.actors.map((actor) => ({ ...actor })) }),
  };
}

/**
 * The Slack line that says who really asked: the current actor acting for the requester, then the rest of the
 * chain. Empty without a chain. An approver deciding for `alice` should see that an agent sent it.
 */
function actingFor(request: ApprovalRequest): string {
  const actors = request.actors;
  if (actors === undefined || actors.length === 0) return "";
  const name = (actor: Actor) =>
    `*${escapeMrkdwn(actor.subject)}*${actor.issuer === undefined ? "" : ` (${escapeMrkdwn(actor.issuer)})`}`;
  const [current, ...earlier] = actors;
  const chain = earlier.length === 0 ? "" : `, delegated through ${earlier.map(name).join(" ← ")}`;
  return `\n${name(current!)} acting for *${escapeMrkdwn(request.requester)}*${chain}`;
}

function grantSummary(grant: Grant) {
  return {
    id: grant.id,
    requestId: grant.requestId,
    principal: grant.principal,
    connection: grant.connection,
    accesses: grant.accesses,
    expiresAt: iso(grant.expiresAt),
    revokedBy: grant.revokedBy,
  };
}

/**
 * Console pages (the console signs the approver in first; a link alone decides nothing). `console_url` is the
 * admin listener's base URL; one that already ends in /console is taken as is.
 */
function links(id: string, consoleUrl: string) {
  const base = consoleUrl.replace(/\/+$/, "").replace(/\/console$/, "");
  const encoded = encodeURIComponent(id);
  return {
    view: `${base}/console/requests/${encoded}`,
    approve: `${base}/console/requests/${encoded}/approve`,
    deny: `${base}/console/requests/${encoded}/deny`,
    api: `${base}/api/requests/${encoded}`,
  };
}

/** Slack mrkdwn treats &, < and > as markup. */
function escapeMrkdwn(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function iso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
