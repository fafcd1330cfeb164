// A small live chart in inline SVG (no chart library): queue depth as an area,
// deliveries per second as bars, failed attempts as ticks under the axis.
import { svg } from './dom';

/** One second of history. */
export interface Sample {
  /** End of the second, epoch ms. */
  t: number;
  /** Queue depth at `t`. */
  queued: number;
  /** Events delivered during the second. */
  delivered: number;
  /** Failed attempts during the second. */
  failed: number;
}

export const WINDOW_MS = 60_000;

const W = 640;
const H = 180;
const PAD = { left: 44, right: 10, top: 12, bottom: 34 };
const PLOT = { x0: PAD.left, x1: W - PAD.right, y0: PAD.top, y1: H - PAD.bottom };

/** The smallest of 1, 2, 2.5, 5 × 10^k that is ≥ n (an even number, for the middle line). */
function niceCeil(n: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(n, 2)));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= n && (step * power) % 2 === 0) return step * power;
  return 10 * power;
}

export function drawChart(chart: SVGSVGElement, samples: readonly Sample[], now: number): void {
  const from = now - WINDOW_MS;
  const visible = samples.filter((s) => s.t > from);
  const top = niceCeil(Math.max(4, ...visible.map((s) => Math.max(s.queued, s.delivered))));
  const x = (t: number) => PLOT.x0 + ((t - from) / WINDOW_MS) * (PLOT.x1 - PLOT.x0);
  const y = (v: number) => PLOT.y1 - (v / top) * (PLOT.y1 - PLOT.y0);

  const title = chart.querySelector('title');
  const desc = chart.querySelector('desc');
  const parts: SVGElement[] = [];

  // Grid and axes.
  for (const v of [0, top / 2, top]) {
    parts.push(svg('line', { class: 'grid', x1: PLOT.x0, x2: PLOT.x1, y1: y(v), y2: y(v) }));
    parts.push(svg('text', { class: 'axis', x: PLOT.x0 - 6, y: y(v) + 4, 'text-anchor': 'end' }, v.toLocaleString('en')));
  }
  for (const [t, label, anchor] of [
    [from, '−60 s', 'start'],
    [now - WINDOW_MS / 2, '−30 s', 'middle'],
    [now, 'now', 'end'],
  ] as const) {
    parts.push(svg('text', { class: 'axis', x: x(t), y: H - 4, 'text-anchor': anchor }, label));
  }

  // Deliveries per second.
  const barWidth = ((PLOT.x1 - PLOT.x0) / (WINDOW_MS / 1000)) * 0.7;
  for (const s of visible) {
    if (s.delivered <= 0) continue;
    const h = Math.max(1.5, PLOT.y1 - y(s.delivered));
    parts.push(svg('rect', { class: 'bar-delivered', x: x(s.t) - barWidth, y: PLOT.y1 - h, width: barWidth, height: h, rx: 1 }));
  }

  // Queue depth, as a step area (it is a level that holds until the next sample).
  if (visible.length > 0) {
    let line = `M${x(Math.max(from, visible[0]!.t - 1000))},${y(visible[0]!.queued)}`;
    for (const s of visible) line += ` H${x(s.t)} V${y(s.queued)}`;
    line += ` H${x(now)}`;
    const area = `${line} V${PLOT.y1} H${x(Math.max(from, visible[0]!.t - 1000))} Z`;
    parts.push(svg('path', { class: 'area-queued', d: area }));
    parts.push(svg('path', { class: 'line-queued', d: line }));
  }

  // Failed attempts: ticks just under the axis.
  for (const s of visible) {
    if (s.failed <= 0) continue;
    parts.push(svg('rect', { class: 'tick-failed', x: x(s.t) - barWidth, y: PLOT.y1 + 4, width: barWidth, height: 8, rx: 1 }));
  }
  parts.push(svg('line', { class: 'axis-line', x1: PLOT.x0, x2: PLOT.x1, y1: PLOT.y1, y2: PLOT.y1 }));

  chart.replaceChildren(...[title, desc].filter((n): n is SVGTitleElement | SVGDescElement => n !== null), ...parts);

  if (desc) {
    const last = visible[visible.length - 1];
    const delivered = visible.reduce((sum, s) => sum + s.delivered, 0);
    const failed = visible.reduce((sum, s) => sum + s.failed, 0);
    const peak = Math.max(0, ...visible.map((s) => s.queued));
    desc.textContent = last
      ? `Queue depth now ${last.queued}, highest ${peak} in the last minute. ${delivered} events delivered and ${failed} failed attempts in the last minute.`
      : 'No data yet.';
  }
}
