/**
 * What the web client's Chromium tests share (copied from test/web-browser.test.ts, which keeps
 * its own): Debian's Chromium with the flags of TOOLCHAIN.md, axe evaluated through the page
 * (the CSP forbids injected scripts), screenshots, waiting for what the server acknowledged, and
 * signing in.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import t from "tap";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { password } from "./helpers.ts";

export const chromiumPath = "/usr/bin/chromium";
export const chromiumThere = existsSync(chromiumPath);
const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const images = join(import.meta.dirname, "..", "docs", "images");

export type Test = Parameters<Parameters<typeof t.test>[0]>[0];

export function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: flags });
}

/** A person's own browser context (English, London), failing the test on any page error. */
export async function person(browser: Browser, viewport = { width: 1200, height: 800 }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, locale: "en-US", timezoneId: "Europe/London" });
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  page.on("pageerror", (err) => t.fail(`page error: ${err.message}`));
  return { context, page };
}

/** axe-core evaluated in the page (not an inline script: the CSP forbids those). */
export async function axe(t: Test, page: Page, screen: string): Promise<void> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const w = window as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: { id: string; help: string; nodes: { target: string[] }[] }[] }> } };
    const r = await w.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] } });
    return r.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")})`);
  });
  t.same(violations, [], `axe finds no violations on ${screen}`);
}

/**
 * The README's screenshots: written only when PARLEY_SCREENSHOTS=1, so that an ordinary test run
 * leaves docs/images/ (and the working tree) as committed.
 */
export async function shot(page: Page, name: string): Promise<void> {
  if (process.env.PARLEY_SCREENSHOTS !== "1") return;
  mkdirSync(images, { recursive: true });
  await page.screenshot({ path: join(images, `${name}.png`) });
}

/**
 * The message element the server acknowledged (it carries data-seq), by its whole text (also
 * when mentions in it are elements of their own, which `:text-is` would not match).
 */
export function acked(page: Page, text: string) {
  const exact = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  return page
    .locator("[role=log] li.message[data-seq]")
    .filter({ has: page.locator("p.body", { hasText: exact }) })
    .first();
}

export async function signIn(page: Page, username: string, pw = password): Promise<void> {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(pw);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("navigation", { name: "Communities and groups" }).waitFor();
}

/** Waits until check() holds (the server's state, read through the SDK), or fails after ~20 s. */
export async function eventually<T>(check: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  let v = await check();
  for (let i = 0; i < 100 && !ok(v); i++) {
    await new Promise((r) => setTimeout(r, 200));
    v = await check();
  }
  return v;
}
