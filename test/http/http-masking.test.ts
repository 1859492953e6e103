import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpTestGateway, startHttpTestGateway, UPSTREAM_SECRET } from "./http-test-gateway.js";

// Responses of the "masked" connection (profile pii + mask_fields /customers/*/name, unmasked_types image/*)
// from a real upstream serving fake PII: masked in JSON and text, decoded when compressed, withheld otherwise.
let h: HttpTestGateway;

beforeAll(async () => {
  h = await startHttpTestGateway();
});
afterAll(async () => {
  await h?.stop();
});

describe("HTTP response masking", () => {
  it("masks JSON by content detectors and JSON-pointer rules", async () => {
    const answer = await h.send("GET", "/masked/customers");
    expect(answer.status).toBe(200);
    const body = JSON.parse(answer.text) as { customers: Record<string, unknown>[] };
    expect(body.customers).toHaveLength(2);
    for (const customer of body.customers) {
      expect(customer.name).toBe("[redacted]");
      expect(String(customer.ssn)).not.toMatch(/\d{3}-\d{2}-\d{4}/);
      expect(String(customer.card)).not.toContain("4111 1111 1111 1111");
      expect(String(customer.email)).not.toMatch(/^[a-z]+@example\.com$/);
    }
    expect(answer.text).not.toContain("123-45-6789");
    expect(answer.headers["content-length"]).toBe(String(Buffer.byteLength(answer.text)));
  });

  it("decodes a gzip body before masking and sends it identity-encoded", async () => {
    const answer = await h.send("GET", "/masked/customers?gzip=1", {
      headers: { "accept-encoding": "gzip" },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers["content-encoding"]).toBeUndefined();
    expect(answer.text).not.toContain("123-45-6789");
    expect(JSON.parse(answer.text).customers[0].name).toBe("[redacted]");
  });

  it("masks text/* by content detectors", async () => {
    const answer = await h.send("GET", "/masked/text");
    expect(answer.status).toBe(200);
    expect(answer.text).toContain("customer card");
    expect(answer.text).not.toContain("4111 1111 1111 1111");
  });

  it("passes types listed in unmasked_types, withholds others and undecodable encodings", async () => {
    expect((await h.send("GET", "/masked/image")).status).toBe(200);
    const octets = await h.send("GET", "/masked/big?bytes=1024");
    expect(octets.status).toBe(502);
    expect(JSON.parse(octets.text)).toMatchObject({ code: "response_withheld" });
    const zstd = await h.send("GET", "/masked/zstd");
    expect(zstd.status).toBe(502);
    expect(JSON.parse(zstd.text).detail).toContain("zstd");
  });

  it("withholds a masked-type body larger than the inspect cap instead of sending it in clear", async () => {
    const answer = await h.send("GET", `/masked/echo/${"x".repeat(10)}`, {
      headers: { "x-padding": "p".repeat(5000) },
    });
    expect(answer.status, answer.text).toBe(200); // a small echo fits
    const big = await h.send("GET", "/capped/echo/x", { headers: { "x-padding": "p".repeat(2000) } });
    expect(big.status).toBe(502);
    expect(JSON.parse(big.text).detail).toContain("inspect_limit");
  });

  it("records masked previews of the response, never the clear values or the secret", async () => {
    await h.send("GET", "/masked/customers?preview=1");
    const results = await h.events("operation_result");
    const text = JSON.stringify(results);
    expect(text).toContain("responsePreview");
    expect(text).not.toContain("123-45-6789");
    expect(text).not.toContain(UPSTREAM_SECRET);
  });
});
