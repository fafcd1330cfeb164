// The chaos schedule: a pure function of the seed. The same seed gives the same steps
// (and the same digest), whatever the machine; only the timing of what the browser and
// the collector do in between differs from run to run.
import { createHash } from 'node:crypto';
import { mulberry32, mixSequence } from '../collector.mjs';

export type Step =
  | { op: 'dispatch'; tab: number; count: number }
  | { op: 'kill' }
  | { op: 'offline' }
  | { op: 'online' }
  | { op: 'wait'; ms: number };

export type Form = 'short' | 'long';

export interface Plan {
  seed: number;
  form: Form;
  tabs: number;
  steps: Step[];
  /** sha256 of the steps, first 16 hex digits: equal digests, equal schedules. */
  digest: string;
  /** sha256 of the collector's first 256 mix choices for this seed, first 16 hex digits. */
  mixDigest: string;
  kills: number;
  events: number;
  offlineSpans: number;
  /** Sum of the waits: a lower bound of the run's length. */
  waitMs: number;
}

const FORMS = {
  // ~10 kills, ~60 events, 2 offline spans: about 15–20 s plus the drain.
  short: { kills: 10, events: 60, maxBatch: 8, offlineSpans: 2, maxWaitMs: 1500 },
  // ≥ 50 kills, ~400 events, 8 offline spans: about 1.5–2 min plus the drain.
  long: { kills: 60, events: 400, maxBatch: 12, offlineSpans: 8, maxWaitMs: 1500 },
} as const;

/** The seed of the schedule's own stream (the collector's mix uses the seed itself). */
export function scheduleSeed(seed: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ 0x5bd1e995) >>> 0;
}

export function makePlan(seed: number, form: Form, tabs = 3): Plan {
  const f = FORMS[form];
  const random = mulberry32(scheduleSeed(seed));
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const steps: Step[] = [];
  let kills = 0;
  let events = 0;
  let offline = false;
  let offlineSpans = 0;
  let offlineFor = 0;

  while (kills < f.kills || events < f.events) {
    if (offline) {
      offlineFor++;
      // Offline for a few steps (a second or two), never for long.
      if (offlineFor > 8 || random() < 0.2) {
        steps.push({ op: 'online' });
        offline = false;
      }
    }
    const x = random();
    if (x < 0.3) {
      if (events < f.events) {
        const count = Math.min(int(1, f.maxBatch), f.events - events);
        steps.push({ op: 'dispatch', tab: int(0, tabs - 1), count });
        events += count;
      }
    } else if (x < 0.55) {
      if (kills < f.kills) {
        steps.push({ op: 'kill' });
        kills++;
        // Now and then a second kill right after: while the fresh worker starts up.
        if (random() < 0.2 && kills < f.kills) {
          steps.push({ op: 'wait', ms: int(10, 120) }, { op: 'kill' });
          kills++;
        }
      }
    } else if (x < 0.62) {
      if (!offline && offlineSpans < f.offlineSpans) {
        steps.push({ op: 'offline' });
        offline = true;
        offlineFor = 0;
        offlineSpans++;
      }
    } else {
      steps.push({ op: 'wait', ms: int(30, f.maxWaitMs) });
    }
  }
  if (offline) steps.push({ op: 'online' });

  const nextChoice = mixSequence(seed);
  const choices = Array.from({ length: 256 }, () => nextChoice().fault);
  return {
    seed,
    form,
    tabs,
    steps,
    digest: sha(JSON.stringify(steps)),
    mixDigest: sha(choices.join(',')),
    kills,
    events,
    offlineSpans,
    waitMs: steps.reduce((sum, s) => sum + (s.op === 'wait' ? s.ms : 0), 0),
  };
}

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
