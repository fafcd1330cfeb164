// How the end-to-end tests launch Chromium (see chromium.mjs).
import type { LaunchOptions } from '@playwright/test';
import { chromiumArgs, executablePath } from './chromium.mjs';

export { executablePath };

export const launchOptions: LaunchOptions = { executablePath, args: chromiumArgs };
