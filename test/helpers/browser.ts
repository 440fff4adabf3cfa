import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions } from 'playwright-core';
import { startTestPlatform } from './platform.js';

/**
 * Debian's Chromium (apt-get install chromium); playwright-core ships no browser of its own.
 * test/setup/chromium.ts finds or installs it before the run and sets CHROMIUM_PATH.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Why this run has no browser (set by test/setup/chromium.ts, which printed it once), if so. */
export const BROWSER_MISSING = process.env.TEST_BROWSER_MISSING;
/** `describe` for a browser test file, `it` for one browser test: skipped when there is no browser. */
export const describeInBrowser = BROWSER_MISSING ? describe.skip : describe;
export const itInBrowser = BROWSER_MISSING ? it.skip : it;

export interface TestBrowser {
  browser: Browser;
  /**
   * A fresh context (its own cookies) with JavaScript off, since every page must work without
   * it. Pass `locale` to choose the Accept-Language the browser sends.
   */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
  close(): Promise<void>;
}

/** Launches headless Chromium; close() ends it and every context opened through it. */
export async function launchBrowser(executablePath = CHROMIUM): Promise<TestBrowser> {
  if (!existsSync(executablePath))
    throw new Error(`Chromium not found at ${executablePath} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
  const browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  return {
    browser,
    newContext: (options = {}) => browser.newContext({ javaScriptEnabled: false, ...options }),
    close: () => browser.close(),
  };
}

/**
 * A browser test file's platform (on a fresh database) and browser, started together. If either
 * fails, the other is stopped before the error is thrown: a half-started platform left behind by
 * a failed beforeAll keeps its pool and timers, which then crash the worker after the file ends.
 */
export async function startPlatformAndBrowser(executablePath = CHROMIUM, overrides: Record<string, unknown> = {}) {
  const [running, browser] = await Promise.allSettled([startTestPlatform(overrides), launchBrowser(executablePath)]);
  if (running.status === 'fulfilled' && browser.status === 'fulfilled')
    return { running: running.value, browser: browser.value };
  if (running.status === 'fulfilled') await running.value.stop();
  if (browser.status === 'fulfilled') await browser.value.close();
  throw ([running, browser].find((result) => result.status === 'rejected') as PromiseRejectedResult).reason;
}
