// Debian's Chromium driven by playwright-core (its own browser download
// cannot work here), with the flags a closed network needs.
import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

/** Where Debian's package puts it; `.ci/run` installs it when missing. */
export const chromiumPath = "/usr/bin/chromium";

/** A reason to skip when the browser is absent, else false. */
export const skipWithoutChromium = (): string | false =>
  existsSync(chromiumPath)
    ? false
    : `${chromiumPath} is absent (apt-get install -y --no-install-recommends chromium)`;

/** Headless Chromium with a fresh profile (playwright makes a new user-data-dir per launch). */
export const launchChromium = (): Promise<Browser> =>
  chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      // Without these, Chromium's own connections are refused by the closed network.
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });

/** Saves a screenshot of `page` to DASHBOARD_SCREENSHOTS (a directory), else the temp directory. */
export const screenshot = async (page: Page, name: string): Promise<void> => {
  const dir = process.env["DASHBOARD_SCREENSHOTS"] ?? join(tmpdir(), "underway-dashboard-screenshots");
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`) });
};
