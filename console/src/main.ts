import "./styles.css";
import { ApiError, api, get, pastedToken, useCsrf, usePastedToken } from "./api.js";
import { h } from "./dom.js";
import { interceptLinks, navigate, parseRoute, type Route } from "./router.js";
import type { Me } from "./types.js";
import { auditView, grantsView, principalsView } from "./views/admin-views.js";
import { inboxView, requestView } from "./views/inbox.js";
import { sessionView } from "./views/session-view.js";
import { sessionsView } from "./views/sessions.js";
import { signInView } from "./views/sign-in.js";

const bar = document.getElementById("bar") as HTMLElement;
const main = document.getElementById("main") as HTMLElement;
let me: Me | undefined;
let current: AbortController | undefined;

async function whoAmI(): Promise<Me | undefined> {
  try {
    const found = await get<Me>("/api/me");
    useCsrf(found.csrf);
    return found;
  } catch (problem) {
    if (problem instanceof ApiError && problem.status === 401) {
      if (pastedToken() !== null) usePastedToken(null);
      return undefined;
    }
    throw problem;
  }
}

function navLink(path: string, label: string, active: boolean) {
  return h(
    "a",
    {
      href: path,
      "data-link": true,
      class: `tab${active ? " active" : ""}`,
      ...(active ? { "aria-current": "page" } : {}),
    },
    label,
  );
}

function renderBar(route: Route): void {
  if (me === undefined) {
    bar.replaceChildren(h("span", { class: "brand" }, "Latch"));
    return;
  }
  const on = (...views: Route["view"][]) => views.includes(route.view);
  const links = [
    navLink("/console/", "Approvals", on("inbox", "request")),
    navLink("/console/grants", "Grants", on("grants")),
  ];
  if (me.roles.read)
    links.push(
      navLink("/console/sessions", "Sessions", on("sessions", "session")),
      navLink("/console/principals", "Principals", on("principals")),
      navLink("/console/audit", "Audit", on("audit")),
    );
  const signOut = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        usePastedToken(null);
        await api("POST", "/console/auth/logout").catch(() => undefined);
        me = undefined;
        navigate("/console/sign-in");
      },
    },
    "Sign out",
  );
  const role = me.roles.admin ? "admin" : me.roles.auditor ? "auditor" : "approver";
  bar.replaceChildren(
    h("span", { class: "brand" }, "Latch"),
    h("nav", { class: "tabs", "aria-label": "Console" }, ...links),
    h("span", { class: "spacer" }),
    h("span", { class: "who" }, `${me.subject} (${role})`),
    signOut,
  );
}

async function render(): Promise<void> {
  current?.abort();
  current = new AbortController();
  const { signal } = current;
  let route = parseRoute(location);
  if (me === undefined && route.view !== "sign-in") me = await whoAmI().catch(() => undefined);
  if (me === undefined && route.view !== "sign-in") {
    // Back here after sign-in (a notification link survives the detour).
    sessionStorage.setItem("latch.returnTo", location.pathname + location.search + location.hash);
    route = { view: "sign-in" };
  }
  renderBar(route);
  const afterSignIn = async () => {
    me = await whoAmI();
    const back = sessionStorage.getItem("latch.returnTo") ?? "/console/";
    sessionStorage.removeItem("latch.returnTo");
    navigate(back.startsWith("/console/sign-in") ? "/console/" : back);
  };
  if (me === undefined)
    return signInView(main, route.view === "sign-in" ? route.error : undefined, afterSignIn);
  switch (route.view) {
    case "sign-in":
      return afterSignIn();
    case "inbox":
      return inboxView(main, me, signal);
    case "request":
      return requestView(main, me, route.id, route.intent, signal);
    case "grants":
      return grantsView(main, me);
    case "sessions":
    case "session":
    case "principals":
    case "audit":
      if (!me.roles.read) {
        main.replaceChildren(
          h("p", { class: "banner", role: "alert" }, "Sessions and audit need an auditor or admin group."),
        );
        return;
      }
      if (route.view === "sessions") return sessionsView(main, route.query);
      if (route.view === "session") return sessionView(main, me, route.id, signal);
      if (route.view === "principals") return principalsView(main, me);
      return auditView(main);
  }
}

interceptLinks(document);
window.addEventListener("popstate", () => {
  void render().then(() => main.focus({ preventScroll: true }));
});
void render();
