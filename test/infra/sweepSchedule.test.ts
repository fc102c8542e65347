/** The missed-sweep alert's threshold: twice the longest gap between SWEEP_SCHEDULE's firings. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ALERT_LOOKBACK_LIMIT_MINUTES, longestGapSeconds, missedSweepAlertMinutes } from "../../infra/templates/sweepSchedule.js";
import { ncrontabProblem } from "../../src/config/ncrontab.js";

describe("missedSweepAlertMinutes", () => {
  it.each([
    ["0 */15 * * * *", 30], // the default: every quarter hour
    ["0 */5 * * * *", 10],
    ["0 0 * * * *", 120],
    ["0 0 */6 * * *", 720],
    ["0 0,10 * * * *", 100], // :00 and :10: the long gap is the 50 minutes from :10 to the next hour
    ["0 */7 * * * *", 14], // :56 to the next :00 is 4 minutes, the others 7: the longest decides
    ["0 0 8-18 * * *", 1680], // office hours: 18:00 to 08:00 is 14 hours
    ["0 30 3 * * *", ALERT_LOOKBACK_LIMIT_MINUTES], // daily: the longest a log alert looks back
    ["*/30 * * * * *", 1], // every 30 seconds, rounded up to a minute
    ["15 5/20 * * * *", 40], // 5/20 runs from :05 to the hour's end: :05, :25, :45
  ])("%s: %i minutes", (schedule, minutes) => {
    expect(missedSweepAlertMinutes(schedule)).toBe(minutes);
  });

  it("measures the gap across midnight", () => {
    expect(longestGapSeconds("0 0 1,23 * * *")).toBe(22 * 3600);
    expect(longestGapSeconds("0 0 0,2 * * *")).toBe(22 * 3600);
  });

  it.each([
    ["0 */15 * * *", "'0 */15 * * *' is not a six-field NCRONTAB expression (second minute hour day month day-of-week)"],
    ["0 0 2 * * mon-fri", "'0 0 2 * * mon-fri' does not fire every day (its day, month and day-of-week fields must be *): a log search alert looks back at most two days"],
    ["0 0 2 1 * *", "'0 0 2 1 * *' does not fire every day (its day, month and day-of-week fields must be *): a log search alert looks back at most two days"],
    ["0 60 * * * *", "'0 60 * * * *': minute '60' is not a value, range or step within 0-59"],
    ["0 0 18-8 * * *", "'0 0 18-8 * * *': hour '18-8' is not a value, range or step within 0-23"],
    ["0 */0 * * * *", "'0 */0 * * * *': minute '*/0' is not a value, range or step within 0-59"],
    ["0 0,,30 * * * *", "'0 0,,30 * * * *': minute '' is not a value, range or step within 0-59"],
  ])("refuses %s", (schedule, message) => {
    expect(() => missedSweepAlertMinutes(schedule)).toThrow(new Error(message));
  });

  it("accepts exactly the daily schedules the service's own NCRONTAB check accepts", () => {
    const token = fc.constantFrom("*", "0", "5", "15", "23", "59", "60", "-", "/", ",", "7", "x");
    const field = fc.array(token, { minLength: 1, maxLength: 5 }).map((tokens) => tokens.join(""));
    fc.assert(
      fc.property(field, field, field, (second, minute, hour) => {
        const schedule = `${second} ${minute} ${hour} * * *`;
        const accepted = (() => {
          try {
            longestGapSeconds(schedule);
            return true;
          } catch {
            return false;
          }
        })();
        expect(accepted, schedule).toBe(ncrontabProblem(schedule) === undefined);
      }),
      { numRuns: 2000 },
    );
  });
});
