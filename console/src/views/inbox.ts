import { ApiError, get, stream } from "../api.js";
import { h } from "../dom.js";
import { timeLeft } from "../format.js";
import type { ApprovalRequest, Me } from "../types.js";
import { mayDecide, requestCard } from "./request-card.js";

/**
 * Pending requests, live: the existing SSE stream (/api/requests/stream) replays what is pending on connect
 * and then pushes every change; decided requests leave the list. Time left ticks every second.
 */
export function inboxView(main: HTMLElement, me: Me, signal: AbortSignal): void {
  const requests = new Map<string, ApprovalRequest>();
  const list = h("div", { class: "requests", "aria-live": "polite" });
  const status = h("span", { class: "pill", role: "status" }, "connecting…");
  const empty = h("p", { class: "empty" }, "Nothing waits for a decision.");
  main.replaceChildren(
    h("div", { class: "page-head" }, h("h1", {}, "Approvals"), status),
    h(
      "p",
      { class: "muted" },
      "Requests you may decide, and your own. Approve lets the held statement run (or opens a grant window).",
    ),
    list,
  );

  const render = () => {
    const pending = [...requests.values()]
      .filter((request) => request.state === "pending")
      .sort((a, b) => Number(mayDecide(me, b)) - Number(mayDecide(me, a)) || a.expiresAt - b.expiresAt);
    list.replaceChildren(
      ...(pending.length === 0
        ? [empty]
        : pending.map((request) =>
            requestCard(me, request, {
              full: false,
              onChange: (updated) => {
                requests.set(updated.id, updated);
                render();
              },
            }),
          )),
    );
  };
  render();

  void stream(
    "/api/requests/stream",
    (type, data) => {
      if (type !== "request") return;
      const request = JSON.parse(data) as ApprovalRequest;
      requests.set(request.id, request);
      render();
    },
    signal,
    (connected) => {
      status.textContent = connected ? "live" : "reconnecting…";
      status.className = `pill ${connected ? "ok" : "warn"}`;
    },
  );
  const tick = window.setInterval(() => {
    for (const element of list.querySelectorAll<HTMLElement>("[data-expires]"))
      element.textContent = timeLeft(Number(element.dataset.expires));
  }, 1000);
  signal.addEventListener("abort", () => window.clearInterval(tick));
}

/** /console/requests/<id>: the request a notification links to, live until decided. */
export async function requestView(
  main: HTMLElement,
  me: Me,
  id: string,
  intent: "approve" | "deny" | undefined,
  signal: AbortSignal,
): Promise<void> {
  const holder = h("div", {});
  main.replaceChildren(
    h(
      "nav",
      { class: "crumbs", "aria-label": "Breadcrumb" },
      h("a", { href: "/console/", "data-link": true }, "Approvals"),
      " / request",
    ),
    holder,
  );
  let shown = "";
  const show = (request: ApprovalRequest, focus?: "approve" | "deny") => {
    // The stream replays pending requests on connect: an unchanged request keeps what was typed.
    const json = JSON.stringify(request);
    if (json === shown) return;
    shown = json;
    holder.replaceChildren(
      requestCard(me, request, {
        full: true,
        ...(focus ? { focus } : {}),
        onChange: (updated) => show(updated),
      }),
    );
  };
  try {
    const { request } = await get<{ request: ApprovalRequest }>(`/api/requests/${encodeURIComponent(id)}`);
    show(request, intent);
  } catch (problem) {
    holder.replaceChildren(
      h(
        "p",
        { class: "banner", role: "alert" },
        problem instanceof ApiError && problem.status === 404
          ? `No request ${id} that you may see (it may belong to another approval group).`
          : String(problem instanceof Error ? problem.message : problem),
      ),
    );
    return;
  }
  void stream(
    "/api/requests/stream",
    (type, data) => {
      if (type !== "request") return;
      const request = JSON.parse(data) as ApprovalRequest;
      if (request.id === id) show(request);
    },
    signal,
    () => {},
  );
  const tick = window.setInterval(() => {
    for (const element of holder.querySelectorAll<HTMLElement>("[data-expires]"))
      element.textContent = timeLeft(Number(element.dataset.expires));
  }, 1000);
  signal.addEventListener("abort", () => window.clearInterval(tick));
}
