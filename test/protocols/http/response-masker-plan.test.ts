import { describe, expect, it } from "vitest";
import { MaskingFailure } from "../../../src/masking/masking-failure.js";
import { compileConnectionMasking } from "../../../src/protocols/http/response-masker.js";

const connection = { masking: [], mask_fields: ["/ssn"], unmasked_types: ["image/*"] };
const fresh = () => compileConnectionMasking("api", connection, {});

describe("ConnectionMasking", () => {
  it("plans each content type as a fresh masker would, whatever came before it (the last plan is remembered)", () => {
    const types = [
      "application/json",
      "application/json",
      "Application/JSON; charset=utf-8",
      "text/plain",
      undefined,
      "application/problem+json",
      "image/png",
      "application/octet-stream",
      "",
      "image/png",
      "application/json",
      undefined,
    ];
    const masking = fresh();
    const plans = types.map((type) => masking.planFor(type));
    expect(plans).toEqual(types.map((type) => fresh().planFor(type)));
    expect(plans).toEqual([
      "json",
      "json",
      "json",
      "text",
      "withhold",
      "json",
      "pass",
      "withhold",
      "withhold",
      "pass",
      "json",
      "withhold",
    ]);
  });

  it("masks a body without a content coding in the call, and still fails as a rejection", async () => {
    const masking = fresh();
    const body = Buffer.from('{"ssn":"123-45-6789","name":"Ada"}');
    const masked = JSON.parse((await masking.mask("json", body, undefined)).toString("utf8"));
    expect(masked.ssn).not.toBe("123-45-6789");
    expect(masked.name).toBe("Ada");
    const identity = JSON.parse((await masking.mask("json", body, "identity")).toString("utf8"));
    expect(identity).toEqual(masked);
    const failed = masking.mask("json", Buffer.from("{not json"), undefined);
    await expect(failed).rejects.toBeInstanceOf(MaskingFailure);
    await expect(masking.mask("json", body, "compress")).rejects.toBeInstanceOf(MaskingFailure);
  });
});
