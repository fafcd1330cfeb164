// How the end-to-end tests launch Chromium: a system Chromium when there is one
// (CHROMIUM_PATH, then /usr/bin/chromium), Playwright's own browser otherwise
// (`npx playwright install chromium` where downloads work).
import { existsSync } from 'node:fs';
import type { LaunchOptions } from '@playwright/test';

const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
export const executablePath = candidates.find((p): p is string => !!p && existsSync(p));

export const launchOptions: LaunchOptions = {
  executablePath,
  // Without the networking flags Chromium floods a closed network with connections.
  args: [
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
  ],
};
