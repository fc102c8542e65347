/**
 * The report page in a real headless browser (Debian's chromium, driven by playwright-core), opened from
 * a file the way a mail attachment opens: it renders styled under its own Content-Security-Policy, its
 * tables hold the expected rows, hostile names show as text and run nothing, a body expands on click,
 * and nothing is fetched. The page and a screenshot are kept in test-artifacts/.
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderReportPage } from "../../src/report/reportPage.js";
import { OTHER_SUB, SUB } from "../support/snapshotBuilder.js";
import { HOSTILE_MESSAGE, HOSTILE_NAME, HOSTILE_TAG_VALUE, RUN_ID, pageFixture } from "./reportPageFixture.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = resolve("test-artifacts");

const fixture = pageFixture();
let browser: Browser;
let page: Page;
const requests: string[] = [];
const dialogs: string[] = [];
const consoleErrors: string[] = [];
let pageUrl: string;

beforeAll(async () => {
  // CI installs it (.ci/run); a missing browser is a failure, never a silent skip.
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does`);
  await mkdir(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, "report-page.html");
  await writeFile(file, renderReportPage(fixture.input));
  pageUrl = pathToFileURL(file).href;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("request", (request) => requests.push(request.url()));
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  await page.goto(pageUrl, { waitUntil: "load" });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe("the report page in chromium, opened from a file", () => {
  it("renders: its title, the totals, and its styles applied under its own Content-Security-Policy", async () => {
    expect(await page.title()).toBe(`ama-remediator report · run ${RUN_ID}`);
    for (const [status, count] of Object.entries(fixture.input.report.summary)) {
      expect(await page.locator(`#totals td[data-status="${status}"]`).textContent(), status).toBe(String(count));
    }
    // Evaluated as a string in the page (this project's TypeScript has no DOM library).
    expect(await page.evaluate("getComputedStyle(document.querySelector('#totals .status-failed')).backgroundColor")).toBe("rgb(253, 232, 230)");
    expect(consoleErrors).toEqual([]); // a style refused by the CSP would be reported here
  });

  it("lists failures first, and a table per subscription with one row per machine or shared resource", async () => {
    const sections = await page.locator("body > section").evaluateAll((elements) => elements.map((element) => element.id || element.getAttribute("data-subscription-id")));
    expect(sections).toEqual(["totals", "failures", ...[SUB, OTHER_SUB].sort()]);
    const failureRows = page.locator("#failures table.failures > tbody > tr");
    expect(await failureRows.count()).toBe(4);
    expect(await failureRows.first().innerText()).toContain("AuthorizationFailed");
    for (const subscriptionId of [SUB, OTHER_SUB]) {
      const rows = page.locator(`section[data-subscription-id="${subscriptionId}"] table.machines tr.machine`);
      expect(await rows.count(), subscriptionId).toBe(fixture.rows[subscriptionId]);
    }
    const otherNames = await page.locator(`section[data-subscription-id="${OTHER_SUB}"] tr.machine .name`).allTextContents();
    expect(otherNames).toContain("vm-other");
    expect(await page.locator(`section[data-subscription-id="${OTHER_SUB}"] .time-to-compliant`).allTextContents()).toEqual(["1 min 35 s"]);
  });

  it("shows a hostile machine name and error message as literal text: no element made of them, no alert", async () => {
    const names = await page.locator("tr.machine .name").allTextContents();
    expect(names).toContain(HOSTILE_NAME);
    expect(await page.locator("#failures").textContent()).toContain(HOSTILE_MESSAGE);
    await page.locator("tr.machine .name", { hasText: HOSTILE_NAME }).hover();
    expect(await page.locator("img, script, b, i, iframe").count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it("keeps bodies collapsed until clicked; an expanded body shows its JSON, the hostile tag value as text", async () => {
    const details = page.locator("details", { hasText: "PUT body" }).filter({ has: page.locator("pre", { hasText: "owner" }) }).first();
    const body = details.locator("pre");
    expect(await details.getAttribute("open")).toBeNull();
    expect(await body.isVisible()).toBe(false);
    await details.locator("summary").click();
    expect(await details.getAttribute("open")).toBe("");
    expect(await body.isVisible()).toBe(true);
    const json = JSON.parse((await body.textContent()) ?? "");
    expect(json.tags.owner).toBe(HOSTILE_TAG_VALUE);
    expect(dialogs).toEqual([]);
  });

  it("fetches nothing but the page itself, and keeps a screenshot", async () => {
    await page.screenshot({ path: join(ARTIFACTS, "report-page.png"), fullPage: true });
    expect(requests).toEqual([pageUrl]);
  });
});
