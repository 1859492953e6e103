import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { createCedarPolicyEngine } from "../../src/policy/create-cedar-engine.js";
import { parsePolicySources } from "../../src/policy/load-policies.js";
import { localTimeIn } from "../../src/policy/local-time.js";
import { FakeClock } from "../support/fake-clock.js";
import { identity, onTable, request, statement } from "./policy-test-helpers.js";

// policy.time_zone: context.local_time in the zone, daylight saving applied, beside UTC context.time. The clock
// is injected (a FakeClock the test moves): Berlin leaves summer time on 2026-10-25 at 01:00 UTC.
const OFFICE_HOURS = `
permit (principal, action == Action::"sql:select", resource)
when {
  context.local_time.weekday <= 5 &&
  context.local_time.hour >= 9 && context.local_time.hour < 18
};`;

const berlin = (policy: string, cacheSize?: number) =>
  createCedarPolicyEngine(parsePolicySources([{ file: "t.cedar", text: policy }]), {
    timeZone: "Europe/Berlin",
    ...(cacheSize === undefined ? {} : { cacheSize }),
  });

describe("context.local_time", () => {
  it("follows the zone's daylight saving: 09:00 in Berlin is 07:00 UTC in summer, 08:00 UTC in winter", () => {
    const local = localTimeIn("Europe/Berlin");
    expect(local(new Date("2026-10-23T07:30:00Z"))).toEqual({
      hour: 9,
      minute: 30,
      weekday: 5,
      date: "2026-10-23",
    });
    expect(local(new Date("2026-10-26T07:30:00Z"))).toEqual({
      hour: 8,
      minute: 30,
      weekday: 1,
      date: "2026-10-26",
    });
    // The repeated hour of the change: 00:30 and 01:30 UTC are both 02:30 local.
    expect(local(new Date("2026-10-25T00:30:00Z")).hour).toBe(2);
    expect(local(new Date("2026-10-25T01:30:00Z")).hour).toBe(2);
    // Sunday 23:30 UTC is already Monday in Berlin.
    expect(local(new Date("2026-11-29T23:30:00Z"))).toMatchObject({
      weekday: 1,
      date: "2026-11-30",
      hour: 0,
    });
  });

  it("decides office hours in Berlin across the DST change, one cached engine, an injected clock", () => {
    const engine = berlin(OFFICE_HOURS);
    const clock = new FakeClock(Date.parse("2026-10-23T06:59:00Z")); // Friday 08:59 CEST
    const ask = () =>
      engine.authorize(
        request(identity("ana"), "prod", [statement([onTable("sql:select", "public.t")])], {
          now: new Date(clock.now()),
        }),
      ).decision;
    expect(ask()).toBe("deny");
    clock.advance(60_000); // 09:00 CEST: the cached deny of 08:59 must not be served
    expect(ask()).toBe("allow");
    clock.advance(Date.parse("2026-10-26T07:30:00Z") - clock.now()); // Monday 08:30 CET (07:30 UTC)
    expect(ask()).toBe("deny");
    clock.advance(30 * 60_000); // 09:00 CET
    expect(ask()).toBe("allow");
    clock.advance(9 * 3_600_000 - 60_000); // 17:59 CET
    expect(ask()).toBe("allow");
    clock.advance(60_000); // 18:00
    expect(ask()).toBe("deny");
    clock.advance(Date.parse("2026-10-31T10:00:00Z") - clock.now()); // Saturday 11:00
    expect(ask()).toBe("deny");
  });

  it("is UTC without a time zone, and context.time stays UTC with one", () => {
    const utcEngine = createCedarPolicyEngine(parsePolicySources([{ file: "t.cedar", text: OFFICE_HOURS }]));
    const at = (iso: string) =>
      request(identity("ana"), "prod", [statement([onTable("sql:select", "public.t")])], {
        now: new Date(iso),
      });
    expect(utcEngine.authorize(at("2026-10-26T08:30:00Z")).decision).toBe("deny"); // 08:30 UTC
    const utcHours = berlin(
      `permit (principal, action, resource) when { context.time.hour == 8 && context.local_time.hour == 9 };`,
    );
    expect(utcHours.authorize(at("2026-10-26T08:30:00Z")).decision).toBe("allow");
    expect(utcHours.authorize(at("2026-10-23T08:30:00Z")).decision).toBe("deny"); // 10:30 CEST
  });

  it("policy.time_zone accepts IANA names and refuses others with the fix", () => {
    expect(configSchema.parse({ policy: { time_zone: "Europe/Berlin" } }).policy.time_zone).toBe(
      "Europe/Berlin",
    );
    expect(configSchema.parse({}).policy.time_zone).toBeUndefined();
    const refused = configSchema.safeParse({ policy: { time_zone: "Europe/Berlln" } });
    expect(refused.success).toBe(false);
    expect(JSON.stringify(refused.error?.issues)).toContain("IANA name such as Europe/Berlin");
  });
});
