/** SWEEP_SCHEDULE's check: six NCRONTAB fields as the Functions host reads them, each within its range. */
import { describe, expect, it } from "vitest";
import { ncrontabProblem } from "../../src/config/ncrontab.js";

describe("ncrontabProblem", () => {
  it.each(["0 */15 * * * *", "0 0 */2 * * *", "30 5 9-17 1,15 * mon-fri", "0 0 0 1 JAN,jul sun", "59 59 23 31 12 6", "0 0 0 * * 0-6/2"])("accepts %s", (expression) => {
    expect(ncrontabProblem(expression)).toBeUndefined();
  });

  it.each([
    ["*/15 * * * *", "5 fields"],
    ["0 */15 * * * * *", "7 fields"],
    ["60 * * * * *", 'second "60" is outside 0-59'],
    ["0 0 0 0 * *", 'day "0" is outside 1-31'],
    ["0 0 0 * * 7", 'day of week "7" is outside 0-6'],
    ["0 0 0 * foo *", 'month "foo" is outside 1-12'],
    ["0 0 17-9 * * *", 'hour range "17-9" runs backwards'],
    ["0 0 1-2-3 * * *", 'hour "1-2-3"'],
    ["0 */0 * * * *", 'minute step "0"'],
    ["0 1/2/3 * * * *", 'minute "1/2/3"'],
    ["0 0,,1 * * * *", 'minute ""'],
  ])("refuses %s: %s", (expression, problem) => {
    expect(ncrontabProblem(expression)).toBe(problem);
  });
});
