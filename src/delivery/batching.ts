// Pure policy for opt-in batching: which queued events may travel as one request, and how
// a merged body is cut when it is refused for its size. No I/O; unit-tested in
// batching.test.ts. (Content keys for de-duplication are the store's: store/content-keys.ts.)
import { utf8Length } from '../validate.js';
import type { Body } from './send.js';

/** One request: the records it carries, where it goes and the exact body (a merged one in pieces). */
export type Unit<R> = { records: R[]; url: string } & Body;

export interface BatchLimits {
  maxVisitors: number;
  maxBytes: number;
}

interface Batchable {
  url: string;
  body: string;
}

/**
 * Groups records (already in queue order) into requests. Records whose URL and context
 * (every top-level field but `visitors`, compared as JSON) are identical share a request
 * whose `visitors` are theirs concatenated in order, within `maxVisitors` and `maxBytes`
 * (UTF-8 length of the merged body); anything else is a request of its
 * own with its body untouched. Units come out in the order of their first record.
 * (One function of ~80 lines on purpose: a single pass whose open units, byte counts and
 * order are shared by every step; split, each piece would take all of them as arguments.)
 */
export function groupForBatching<R extends Batchable>(records: readonly R[], limits: BatchLimits): Unit<R>[] {
  interface Open {
    /** The first record's unit, until others join it. */
    unit: { records: R[]; url: string; body: string };
    span: VisitorsSpan;
    /** Each record's visitors, as text without the brackets. */
    parts: string[];
    visitors: number;
    bytes: number;
    /** The first record's text around its visitors. */
    head: string;
    tail: string;
  }
  const units: (Unit<R> | Open)[] = [];
  const open = new Map<string, Open>();
  // The group the last record joined: the next one usually shares its context, which is
  // then compared in place (no key string made and hashed for each record).
  let last: Open | undefined;
  const sameContext = (o: Open, record: R, span: VisitorsSpan) =>
    o.unit.url === record.url &&
    o.head.length === span.start &&
    o.tail.length === record.body.length - span.end &&
    record.body.startsWith(o.head) &&
    record.body.endsWith(o.tail);
  for (const record of records) {
    // Read as text (no parse: a page of hundreds of bodies would be as many object graphs).
    const span = visitorsSpan(record.body);
    if (!span) {
      units.push({ records: [record], url: record.url, body: record.body });
      continue;
    }
    const head = record.body.slice(0, span.start);
    const tail = record.body.slice(span.end);
    const contextKey = () => `${record.url}\n${head}\n${tail}`;
    const inner = record.body.slice(span.start + 1, span.end - 1);
    // What this event adds to a merged body: its visitors and a comma.
    const added = utf8Length(inner) + 1;
    const current = last && sameContext(last, record, span) ? last : open.get(contextKey());
    if (current && current.visitors + span.count <= limits.maxVisitors && current.bytes + added <= limits.maxBytes) {
      current.unit.records.push(record);
      current.parts.push(inner);
      current.visitors += span.count;
      current.bytes += added;
      last = current;
      continue;
    }
    const fresh: Open = {
      unit: { records: [record], url: record.url, body: record.body },
      span,
      parts: [inner],
      visitors: span.count,
      bytes: utf8Length(record.body),
      head,
      tail,
    };
    open.set(contextKey(), fresh);
    units.push(fresh);
    last = fresh;
  }
  return units.map((u) => {
    if (!('span' in u)) return u;
    // One record: its own body, byte for byte. Several: the first one's text around its
    // visitors (its fields, in their order), with every record's visitors, in order.
    if (u.unit.records.length > 1) {
      const head = u.unit.body;
      const pieces = [`${head.slice(0, u.span.start)}[`];
      for (const part of u.parts) {
        if (part === '') continue;
        if (pieces.length > 1) pieces.push(',');
        pieces.push(part);
      }
      pieces.push(`]${head.slice(u.span.end)}`);
      // Not joined: the sender sends the pieces (a copy of every body fewer on the worker's heap).
      return { records: u.unit.records, url: u.unit.url, parts: pieces };
    }
    return u.unit;
  });
}

interface VisitorsSpan {
  /** `body.slice(start, end)` is the top-level `visitors` array, brackets included. */
  start: number;
  end: number;
  /** Its elements. */
  count: number;
}

/**
 * Where the top-level `"visitors":[...]` of a JSON object body is, read as text (as
 * `JSON.stringify` writes it: no white space around the colon), or undefined.
 */
export function visitorsSpan(body: string): VisitorsSpan | undefined {
  if (body.charCodeAt(0) !== 0x7b /* { */) return undefined;
  let depth = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const from = i;
      i = stringEnd(body, i);
      if (depth === 1 && body.startsWith(':[', i + 1) && body.slice(from + 1, i) === 'visitors') return arraySpan(body, i + 2);
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return undefined;
}

function arraySpan(body: string, start: number): VisitorsSpan | undefined {
  let depth = 0;
  let commas = 0;
  for (let i = start; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c === 0x22) i = stringEnd(body, i);
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (--depth === 0) {
        const empty = body.slice(start + 1, i).trim() === '';
        return { start, end: i + 1, count: empty ? 0 : commas + 1 };
      }
    } else if (c === 0x2c && depth === 1) commas++;
  }
  return undefined;
}

/** The index of the quote that closes the string opening at `i`. */
function stringEnd(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x5c /* \\ */) j++;
    else if (c === 0x22) return j;
  }
  return text.length;
}

/** Halves of a unit that got a permanent error, so one bad event cannot block the rest. */
export function split<R>(records: readonly R[]): [R[], R[]] {
  const middle = Math.ceil(records.length / 2);
  return [records.slice(0, middle), records.slice(middle)];
}
