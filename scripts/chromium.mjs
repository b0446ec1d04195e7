// Debian's headless Chromium, driven by playwright-core (which downloads no browser), for the
// console tests, its benchmark and its screenshot. Each launch gets a fresh profile directory,
// removed on close; the flags keep Chromium from reaching for the network on its own.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.FALCO_GRPC_OUTPUT_CHROMIUM ?? '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Starts Chromium with a fresh --user-data-dir (playwright passes it for a persistent context).
 * Returns the browser context and close(), which also removes the profile.
 * options: { viewport, ignoreHTTPSErrors, clientCertificates } as playwright takes them.
 */
export async function launchChromium(options = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (npm test does, as root: node scripts/provision.mjs chromium)`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'fgo-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: options.viewport ?? { width: 1440, height: 1000 },
    ignoreHTTPSErrors: options.ignoreHTTPSErrors ?? false,
    ...(options.clientCertificates ? { clientCertificates: options.clientCertificates } : {}),
  });
  return {
    context,
    /** The profile directory: every process of this browser has it on its command line. */
    profile,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
