/**
 * Headless Chromium (playwright-core driving the system's Chromium) on the editor of a hub or a
 * Node-RED the test started: the launch flags, a 1400x900 page that collects its errors, and the
 * wait until the editor shows a given palette node.
 */
import * as fs from 'node:fs';

export const CHROMIUM = process.env.SOAR_CHROMIUM || '/usr/bin/chromium';

export interface EditorBrowser {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  browser: any;
  /** The playwright page (untyped: the specs evaluate plain scripts in it). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  page: any;
  /** Uncaught errors of the page, in order. */
  pageErrors: string[];
  close(): Promise<void>;
}

/** Skips the suite when there is no Chromium (fails instead under SOAR_REQUIRE_SYSTEM=1). */
export function skipWithoutChromium(ctx: Mocha.Context): void {
  if (fs.existsSync(CHROMIUM)) return;
  if (process.env.SOAR_REQUIRE_SYSTEM === '1') throw new Error(`no Chromium at ${CHROMIUM}`);
  console.log(`    skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  ctx.skip();
}

/**
 * Opens the editor at url (retried while the server is still starting) and waits for the palette
 * node of paletteType, which comes once the node pack's HTML is loaded.
 */
export async function openEditor(url: string, paletteType: string): Promise<EditorBrowser> {
  const browser = await launchChromium();
  const pageErrors: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('pageerror', (e: Error) => pageErrors.push(String(e)));
    for (let i = 0; ; i++) {
      try {
        await page.goto(url);
        break;
      } catch (err) {
        if (i > 120) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    await page.locator(`.red-ui-palette-node[data-palette-type="${paletteType}"]`).waitFor({ timeout: 60000 });
    return { browser, page, pageErrors, close: () => browser.close() };
  } catch (err) {
    await browser.close();
    throw err;
  }
}

/** Headless Chromium, without its background traffic (updates, sync, QUIC probes). */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
