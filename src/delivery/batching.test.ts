import { describe, expect, it } from 'vitest';
import { optimizelyBody as body } from '../optimizely-body.fixture.js';
import { groupForBatching, split, visitorsSpan } from './batching.js';
import { wholeBody } from './send.js';

const URL_ = 'https://logx.optimizely.com/v1/events';
const rec = (id: string, b: string, url = URL_) => ({ id, url, body: b });

describe('groupForBatching', () => {
  const roomy = { maxVisitors: 100, maxBytes: 1 << 20 };

  it('merges events of one context into one body whose visitors are theirs, in order; a single event keeps its body', () => {
    const records = [rec('1', body(['a'], {}, 'v1'), URL_), rec('2', body(['b'], {}, 'v2')), rec('3', body(['c'], {}, 'v3'))];
    const units = groupForBatching(records, roomy);
    expect(units).toHaveLength(1);
    const merged = JSON.parse(wholeBody(units[0]!));
    expect(merged.visitors.map((v: { visitor_id: string }) => v.visitor_id)).toEqual(['v1', 'v2', 'v3']);
    const { visitors: _, ...context } = merged;
    const { visitors: __, ...first } = JSON.parse(records[0]!.body);
    expect(context).toEqual(first);
    // Field order kept: the merged body is the first body with more visitors.
    expect(Object.keys(merged)).toEqual(Object.keys(JSON.parse(records[0]!.body)));
    expect(units[0]!.records.map((r) => r.id)).toEqual(['1', '2', '3']);

    const single = groupForBatching([records[1]!], roomy);
    expect(single[0]!.body).toBe(records[1]!.body);
    expect(single[0]!.parts).toBeUndefined();
  });

  it('a merged unit carries its body in pieces; a single event has none (its body is sent as it is)', () => {
    const records = [rec('1', body(['a'], {}, 'v1')), rec('2', body(['b'], {}, 'v2'))];
    const [merged] = groupForBatching(records, roomy);
    expect(merged!.parts!.join('')).toBe(wholeBody(merged!));
    expect(merged!.body).toBeUndefined();
    expect(merged!.parts!.length).toBeGreaterThan(2);
    expect(groupForBatching([records[0]!], roomy)[0]!.parts).toBeUndefined();
  });

  it('never merges different contexts, URLs or non-Optimizely bodies', () => {
    const records = [
      rec('1', body(['a'])),
      rec('2', body(['b'], { revision: '43' })),
      rec('3', body(['c'], { client_version: '5.0.0' })),
      rec('4', body(['d'], { anonymize_ip: false })),
      rec('5', body(['e']), 'https://other.example/v1/events'),
      rec('6', '{"plain":true}'),
      rec('7', body(['f'])),
    ];
    const units = groupForBatching(records, roomy);
    expect(units.map((u) => u.records.map((r) => r.id))).toEqual([['1', '7'], ['2'], ['3'], ['4'], ['5'], ['6']]);
    for (const u of units.slice(1)) expect(u.body).toBe(u.records[0]!.body);
  });

  it('respects maxVisitors', () => {
    const records = Array.from({ length: 7 }, (_, i) => rec(String(i), body([`u${i}`])));
    const units = groupForBatching(records, { maxVisitors: 3, maxBytes: 1 << 20 });
    expect(units.map((u) => u.records.length)).toEqual([3, 3, 1]);
    for (const u of units) expect(JSON.parse(wholeBody(u)).visitors.length).toBe(u.records.length);
  });

  it('respects maxBytes, measured on the merged body in UTF-8', () => {
    const records = Array.from({ length: 10 }, (_, i) => rec(String(i), body([`u${i}-ünï`])));
    const one = new TextEncoder().encode(records[0]!.body).length;
    const limit = Math.floor(one * 2.5);
    const units = groupForBatching(records, { maxVisitors: 100, maxBytes: limit });
    expect(units.length).toBeGreaterThan(1);
    for (const u of units) expect(new TextEncoder().encode(wholeBody(u)).length).toBeLessThanOrEqual(limit);
    expect(units.flatMap((u) => u.records.map((r) => r.id))).toEqual(records.map((r) => r.id));
  });

  it('split halves a unit, first half larger', () => {
    expect(split([1, 2, 3, 4, 5])).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    expect(split([1])).toEqual([[1], []]);
  });
});

describe('visitorsSpan (read as text)', () => {
  it('finds the top-level visitors array and counts its elements, whatever the strings hold', () => {
    const tricky = {
      note: 'a "visitors":[1,2] in a string, brackets ] } [ { and an escaped quote \\" and \\\\',
      nested: { visitors: [9, 9, 9] },
      visitors: [{ v: '],[' }, { v: 'x' }, [1, [2]]],
      after: ['}'],
    };
    const body = JSON.stringify(tricky);
    const span = visitorsSpan(body)!;
    expect(span).toBeDefined();
    expect(JSON.parse(body.slice(span.start, span.end))).toEqual(tricky.visitors);
    expect(span.count).toBe(3);
    expect(visitorsSpan(JSON.stringify({ visitors: [] }))).toMatchObject({ count: 0 });
    expect(visitorsSpan(JSON.stringify({ nested: { visitors: [1] } }))).toBeUndefined();
    expect(visitorsSpan(JSON.stringify({ visitors: 'no' }))).toBeUndefined();
    expect(visitorsSpan('[1,2]')).toBeUndefined();
  });

  it('a merged body equals the first body with every visitor concatenated, for random bodies', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const text = () =>
      Array.from({ length: Math.floor(random() * 12) }, () => String.fromCharCode(32 + Math.floor(random() * 95))).join('');
    const context = { account_id: '1', project_id: '2', revision: '42', note: text() };
    const records = Array.from({ length: 30 }, (_, i) => {
      const visitors = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({ id: text(), tags: { t: text(), n: random() } }));
      return { id: String(i), url: URL_, body: JSON.stringify({ ...context, visitors, tail: [text()] }), visitors };
    });
    // Same context only when the tail matches: give them all the same tail.
    for (const r of records) r.body = JSON.stringify({ ...context, visitors: r.visitors, tail: ['same'] });
    const units = groupForBatching(records, { maxVisitors: 1000, maxBytes: 1 << 24 });
    expect(units).toHaveLength(1);
    expect(wholeBody(units[0]!)).toBe(JSON.stringify({ ...context, visitors: records.flatMap((r) => r.visitors), tail: ['same'] }));
  });
});
