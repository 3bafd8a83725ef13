// Schedule expressions on their own: parsing, zones, daylight-saving days and
// tick arithmetic are pure functions of the expression and an instant, so
// these run in the unit lane, without a database (moved from
// test/schedule.test.ts, whose other tests store and fire schedules).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, nextTick, parseSchedule, ticksBetween } from "../src/index.ts";

/** Wall-clock time of an instant in a zone, "HH:MM" (24 h). */
const localTime = (instant: Date, timeZone: string): string =>
  new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(
    instant,
  );

/** Ticks of one local calendar day, given its first and the next day's first instant (UTC). */
const ticksOfDay = (text: string, dayStart: string, nextDayStart: string): Date[] =>
  ticksBetween(
    parseSchedule(text),
    new Date(new Date(dayStart).getTime() - 1),
    new Date(new Date(nextDayStart).getTime() - 1),
  );

describe("schedule expressions", () => {
  it("rejects invalid expressions and unknown zones with a ConfigError naming the problem", () => {
    const cases: Array<[string, RegExp]> = [
      ["0 * * * * *", /expected "<cron expression>\[<IANA time zone>\]"/],
      ["0 * * * * *[]", /unknown time zone ""/],
      ["0 * * * * *[Mars/Olympus_Mons]", /unknown time zone "Mars\/Olympus_Mons"/],
      ["0 * * * * *[+02:00]", /unknown time zone "\+02:00"/],
      ["61 * * * *[UTC]", /cron expression "61 \* \* \* \*" is invalid: .*minute/],
      ["* * *[UTC]", /cron expression "\* \* \*" is invalid/],
      ["0 0 0 1 1 * 2030[UTC]", /is invalid: .*5 or 6 parts/],
      ["@sometimes[UTC]", /cron expression "@sometimes" is invalid/],
      ["0 0 0 30 2 *[UTC]", /never fires/],
    ];
    for (const [text, message] of cases) {
      assert.throws(
        () => parseSchedule(text),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError, `${text}: ${String(error)}`);
          assert.match(error.message, message, text);
          return true;
        },
      );
    }
  });

  it("accepts 5- and 6-field forms and nicknames, in IANA zones", () => {
    const after = new Date("2024-06-01T00:00:00Z");
    const at = (text: string) => nextTick(parseSchedule(text), after)?.toISOString();
    assert.equal(at("0 */15 * * * *[America/Los_Angeles]"), "2024-06-01T00:15:00.000Z");
    assert.equal(at("30 2 * * *[Europe/Berlin]"), "2024-06-01T00:30:00.000Z");
    assert.equal(at("0 30 2 * * *[Europe/Berlin]"), "2024-06-01T00:30:00.000Z");
    assert.equal(at("@daily[Europe/Berlin]"), "2024-06-01T22:00:00.000Z");
    assert.equal(at("  @hourly [UTC] "), "2024-06-01T01:00:00.000Z");
  });

  // America/New_York, 2024: clocks jump 02:00 -> 03:00 on March 10 and fall
  // back 02:00 -> 01:00 on November 3. A local day there lasts 23 h and 25 h.
  const springDay = ["2024-03-10T05:00:00Z", "2024-03-11T04:00:00Z"] as const;
  const fallDay = ["2024-11-03T04:00:00Z", "2024-11-04T05:00:00Z"] as const;
  const plainDay = ["2024-06-01T04:00:00Z", "2024-06-02T04:00:00Z"] as const;
  const ny = "America/New_York";

  it("fires a daily time in the skipped hour once, just after the jump", () => {
    const ticks = ticksOfDay(`0 30 2 * * *[${ny}]`, ...springDay);
    assert.deepEqual(
      ticks.map((tick) => tick.toISOString()),
      ["2024-03-10T07:00:00.000Z"],
    );
    assert.equal(localTime(ticks[0]!, ny), "03:00");
    assert.equal(ticksOfDay(`0 30 2 * * *[${ny}]`, ...plainDay).length, 1);
  });

  it("fires a daily time in the repeated hour once, at its first occurrence", () => {
    const ticks = ticksOfDay(`0 30 1 * * *[${ny}]`, ...fallDay);
    assert.deepEqual(
      ticks.map((tick) => tick.toISOString()),
      ["2024-11-03T05:30:00.000Z"], // 01:30 EDT, not 01:30 EST an hour later
    );
    assert.equal(ticksOfDay(`0 30 2 * * *[${ny}]`, ...fallDay).length, 1);
    assert.equal(ticksOfDay(`30 1 * * *[${ny}]`, ...fallDay).length, 1, "5-field form alike");
  });

  it("fires an hourly schedule 23, 24 and 25 times on the short, plain and long days", () => {
    const hourly = `0 0 * * * *[${ny}]`;
    const spring = ticksOfDay(hourly, ...springDay);
    const fall = ticksOfDay(hourly, ...fallDay);
    assert.equal(spring.length, 23);
    assert.equal(ticksOfDay(hourly, ...plainDay).length, 24);
    assert.equal(fall.length, 25);
    // As the zone's clock reads: no 02:00 in spring, 01:00 twice in the fall.
    const hours = (ticks: Date[]) => ticks.map((tick) => localTime(tick, ny).slice(0, 2)).join(" ");
    assert.equal(hours(spring), "00 01 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21 22 23");
    assert.equal(hours(fall), "00 01 01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21 22 23");
    // Real time between ticks stays one hour through both transitions.
    for (const ticks of [spring, fall]) {
      ticks
        .slice(1)
        .forEach((tick, index) => assert.equal(tick.getTime() - ticks[index]!.getTime(), 3_600_000));
    }
  });

  it("agrees with itself: stepping nextTick gives the same ticks as ticksBetween", () => {
    for (const text of [`0 0 * * * *[${ny}]`, `0 30 1 * * *[${ny}]`, "0 */15 * * * *[America/Los_Angeles]"]) {
      const spec = parseSchedule(text);
      const from = new Date("2024-11-02T00:00:00Z");
      const to = new Date("2024-11-05T00:00:00Z");
      const stepped: string[] = [];
      for (let tick = nextTick(spec, from); tick !== null && tick <= to; tick = nextTick(spec, tick)) {
        stepped.push(tick.toISOString());
      }
      assert.deepEqual(
        ticksBetween(spec, from, to).map((tick) => tick.toISOString()),
        stepped,
        text,
      );
    }
    // Every 15 minutes in Los Angeles: 92 ticks on its short day, 100 on its long one.
    const la = "0 */15 * * * *[America/Los_Angeles]";
    assert.equal(ticksOfDay(la, "2024-03-10T08:00:00Z", "2024-03-11T07:00:00Z").length, 92);
    assert.equal(ticksOfDay(la, "2024-11-03T07:00:00Z", "2024-11-04T08:00:00Z").length, 100);
    // @daily in Berlin: midnight to midnight is 23 h across the spring change, 25 h across the fall one.
    const daily = parseSchedule("@daily[Europe/Berlin]");
    const gap = (after: string) => {
      const first = nextTick(daily, new Date(after))!;
      return (nextTick(daily, first)!.getTime() - first.getTime()) / 3_600_000;
    };
    assert.equal(gap("2024-03-30T12:00:00Z"), 23);
    assert.equal(gap("2024-10-26T12:00:00Z"), 25);
  });
});
