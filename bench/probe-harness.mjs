// @ts-check
// How much of a request's cost is the harness: bare fetch (3,000 ~1 KB JSON bodies, 6 in
// flight, cross-origin with CORS), counted by the bench collector, in Chromium driven by
// Playwright and in the same Chromium launched with no debugger attached; 3 rounds each,
// interleaved. Not part of npm run bench. Run: node bench/probe-harness.mjs
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCollector } from '../e2e/collector.mjs';
import { launchPlain, openContext } from './browser.mjs';

const N = 3000;
const collector = await startCollector({ log: false, keepAliveMs: 120_000 });
/** @param {string} url @param {number} n */
const page = (url, n) => `<!doctype html><script>
const n = ${n}; const url = ${JSON.stringify(url)};
const body = (i) => JSON.stringify({account_id:'1',project_id:'2',revision:'3',client_name:'x',client_version:'1',anonymize_ip:true,enrich_decisions:true,
  visitors:[{visitor_id:'v'+i,attributes:[{entity_id:'a',key:'k',type:'custom',value:'x'.repeat(600)}],snapshots:[{decisions:[],events:[{entity_id:'e',key:'purchase',timestamp:Date.now(),uuid:'u-'+url.length+'-'+i+'-'+Math.random()}]}]}]});
async function run(prefix, count) {
  const bodies = Array.from({length: count}, (_, i) => body(prefix + i));
  let next = 0;
  await Promise.all(Array.from({length: 6}, async () => { while (next < bodies.length) { const r = await fetch(url, {method:'POST', headers:{'content-type':'application/json'}, body: bodies[next++], credentials:'omit', mode:'cors'}); r.body?.cancel().catch(()=>{}); } }));
}
(async () => { await run(1e6, 50); await run(0, n); })();
</script>`;
const server = createServer((req, res) => {
  const id = String(req.url).slice(1);
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(page(collector.scenarioUrl(id), N));
});
await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
const origin = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`;

/** @param {'playwright' | 'plain'} kind @param {number} round @returns {Promise<number>} */
async function measure(kind, round) {
  const id = `${kind}-${round}`;
  const dir = mkdtempSync(join(tmpdir(), 'probe-'));
  /** @type {() => Promise<void>} */
  let stop;
  if (kind === 'playwright') {
    const session = await openContext(dir);
    await session.page.goto(`${origin}/${id}`);
    stop = session.close;
  } else {
    const plain = launchPlain(dir, `${origin}/${id}`);
    stop = plain.stop;
  }
  // Warm-up is 50 events; the timed part starts at the 51st event.
  await collector.waitFor(id, 50, 60_000);
  const t0 = performance.now();
  const done = await collector.waitFor(id, 50 + N, 120_000);
  await stop();
  rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  return N / ((done - t0) / 1000);
}
/** @type {Record<'playwright' | 'plain', number[]>} */
const results = { playwright: [], plain: [] };
for (let round = 1; round <= 3; round++) {
  for (const kind of /** @type {const} */ (['playwright', 'plain'])) {
    const rate = await measure(kind, round);
    results[kind].push(Math.round(rate));
    console.log(`round ${round} ${kind}: ${Math.round(rate)} requests/s`);
  }
}
console.log(JSON.stringify(results));
await collector.close();
server.close();
