// @ts-check
// Where Chromium is and how to launch it, for the Playwright config and the standalone
// scripts alike: a system Chromium when there is one (CHROMIUM_PATH, then
// /usr/bin/chromium), Playwright's own browser otherwise (`npx playwright install chromium`).
import { existsSync } from 'node:fs';

const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
/** @type {string | undefined} */
export const executablePath = candidates.find((p) => !!p && existsSync(p));

/** Without the networking flags Chromium floods a closed network with connections. */
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
