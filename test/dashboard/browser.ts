/**
 * A real Chromium for the dashboard tests, driven by playwright-core: Debian's `chromium` package
 * (or the binary SPOOL_CHROMIUM names). There is no fallback: without a browser these tests fail,
 * saying how to install one, since nothing else shows that the page works.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";

export const SCREENSHOT_DIR = fileURLToPath(new URL("../../test-results/dashboard/", import.meta.url));

export const VIEWPORTS = {
  laptop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

export function chromiumPath(): string {
  const wanted = process.env.SPOOL_CHROMIUM ?? "/usr/bin/chromium";
  if (!existsSync(wanted)) {
    throw new Error(
      `the dashboard tests need Chromium at ${wanted} (set SPOOL_CHROMIUM to use another binary): install it with \`apt-get install -y chromium\` (as root)`,
    );
  }
  return wanted;
}

export async function launchBrowser(): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: chromiumPath(), args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

/** Saves `<name>-laptop.png` and `<name>-phone.png` (full page), then puts the laptop size back. */
export async function screenshots(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  for (const [size, viewport] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}-${size}.png`), fullPage: true, animations: "disabled" });
  }
  await page.setViewportSize(VIEWPORTS.laptop);
}
