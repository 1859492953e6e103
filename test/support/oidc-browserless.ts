/**
 * The part of an OIDC sign-in a browser plays at the provider (test/support/oidc-provider.ts with signIn), with
 * fetch and a cookie jar: follows the provider's redirects from `authorizeUrl`, fills its login form with
 * `login` (and its consent form, if shown) and resolves the URL the provider sends the browser back to, the
 * first redirect that starts with `returnPrefix`, without visiting it: the test picks which gateway it reaches.
 */
export async function signInAtProvider(
  authorizeUrl: string,
  login: string,
  returnPrefix: string,
): Promise<string> {
  const jar = new Map<string, string>();
  let url = authorizeUrl;
  let body: URLSearchParams | undefined;
  for (let step = 0; step < 20; step++) {
    const response = await fetch(url, {
      redirect: "manual",
      method: body === undefined ? "GET" : "POST",
      headers: {
        cookie: [...jar].map(([name, value]) => `${name}=${value}`).join("; "),
        ...(body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" }),
      },
      ...(body === undefined ? {} : { body }),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair!.indexOf("=");
      jar.set(pair!.slice(0, at), pair!.slice(at + 1));
    }
    body = undefined;
    const location = response.headers.get("location");
    if (location !== null) {
      const next = new URL(location, url).href;
      if (next.startsWith(returnPrefix)) return next;
      url = next;
      continue;
    }
    const page = await response.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(page)?.[1];
    const prompt = /name="prompt" value="([^"]+)"/.exec(page)?.[1];
    if (response.status !== 200 || action === undefined || prompt === undefined)
      throw new Error(`the provider answered ${response.status} without a form: ${page.slice(0, 300)}`);
    url = new URL(action.replaceAll("&amp;", "&"), url).href;
    body = new URLSearchParams(prompt === "login" ? { prompt, login, password: "any" } : { prompt });
  }
  throw new Error(`the provider did not send the browser back to ${returnPrefix}`);
}
