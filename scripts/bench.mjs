// npm run bench: sw-outbox measured beside its anchors (workbox-background-sync, a bare
// postMessage, the one-transaction IndexedDB ceiling) in headless Chromium. The harness
// lives in bench/ (see bench/README.md); `npm run bench -- --help` lists the options.
import { main } from '../bench/run.mjs';

process.exitCode = await main(process.argv.slice(2));
