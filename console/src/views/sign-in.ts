import { ApiError, get, usePastedToken } from "../api.js";
import { h } from "../dom.js";

interface Providers {
  oidc: { id: string; name: string }[];
  saml: { id: string; name: string }[];
}

/**
 * Sign in: single sign-on buttons for each configured provider (the gateway runs the OIDC code flow or the
 * SAML exchange and sets an HttpOnly cookie), and pasting a token as the fallback for headless setups.
 */
export async function signInView(main: HTMLElement, error: string | undefined, onSignedIn: () => void) {
  let providers: Providers = { oidc: [], saml: [] };
  try {
    providers = await get<Providers>("/console/auth/providers");
  } catch {
    // No single sign-on configured (or an older gateway): the token form alone.
  }
  const message = h("p", { class: "banner", role: "alert", hidden: error === undefined }, error ?? "");
  const input = h("input", {
    type: "password",
    id: "token",
    name: "token",
    autocomplete: "off",
    required: true,
    placeholder: "eyJ…",
  });
  const form = h(
    "form",
    {
      class: "token-form",
      onsubmit: async (event: Event) => {
        event.preventDefault();
        usePastedToken(input.value.trim());
        try {
          await get("/api/me");
          onSignedIn();
        } catch (problem) {
          usePastedToken(null);
          message.hidden = false;
          message.textContent = `Token refused: ${problem instanceof ApiError ? problem.message : String(problem)}`;
        }
      },
    },
    h("label", { for: "token" }, "Token"),
    input,
    h("button", { type: "submit", class: "primary" }, "Sign in with token"),
  );
  const sso = [
    ...providers.oidc.map((p) => ["oidc", p] as const),
    ...providers.saml.map((p) => ["saml", p] as const),
  ];
  main.replaceChildren(
    h(
      "section",
      { class: "card sign-in", "aria-labelledby": "sign-in-title" },
      h("h1", { id: "sign-in-title" }, "Sign in to Latch"),
      message,
      sso.length > 0
        ? h(
            "div",
            { class: "sso" },
            ...sso.map(([kind, provider]) =>
              h(
                "a",
                {
                  class: "button primary",
                  href: `/console/auth/${kind}/${encodeURIComponent(provider.id)}/login?return=${encodeURIComponent(location.pathname)}`,
                },
                `Sign in with ${provider.name}`,
              ),
            ),
          )
        : null,
      h(
        "details",
        { open: sso.length === 0 },
        h("summary", {}, "Paste a token instead"),
        h(
          "p",
          { class: "muted" },
          "An OIDC token from a configured issuer, or `latch token` with the dev issuer. It stays in this tab until you sign out.",
        ),
        form,
      ),
    ),
  );
}
