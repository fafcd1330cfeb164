// The ready-made worker (/sw.js) with a wall clock the test moves, as an NTP or user
// correction would: `Date` is replaced before the outbox loads, shifted by the ms of
// `v=clock<ms>` in the query (a new worker version started after the jump; `v` because it
// is the one key the ready-made worker, which reads this worker's own query, ignores)
// plus what an `e2e/clock` message adds (a jump while it runs). The monotonic clock
// (performance.now()) is left alone, as a real jump leaves it. Used by e2e/clock.spec.ts.
let shift = Number(/^clock(-?\d+)$/.exec(new URLSearchParams(self.location.search).get('v') ?? '')?.[1] ?? 0);
const RealDate = Date;

class ShiftedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + shift);
    else super(...args);
  }
  static now() {
    return RealDate.now() + shift;
  }
}
self.Date = ShiftedDate;

// The test moves the clock and reads it (the outbox ignores messages that are not its own).
self.addEventListener('message', (event) => {
  if (event.data?.type !== 'e2e/clock') return;
  shift += Number(event.data.shiftMs ?? 0);
  event.ports[0]?.postMessage({ now: Date.now(), shift });
});

importScripts(`/sw.js${self.location.search}`);
