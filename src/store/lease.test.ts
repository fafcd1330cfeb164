// The flushing lease, for contexts without Web Locks: one owner at a time, renewable,
// released by a zero ttl, taken over after it expires.
import { afterEach, describe, expect, it } from 'vitest';
import { type Store, openStore } from './store.js';

const opened: Store[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

describe('lease', () => {
  it('one owner at a time; renewable by its owner; free once released or expired', async () => {
    const name = `lease-${Math.random()}`;
    const a = openStore({ name });
    const b = openStore({ name }); // another tab on the same database
    opened.push(a, b);
    expect(await a.lease('a', 1000, 10_000)).toBe(true);
    expect(await b.lease('b', 2000, 10_000)).toBe(false);
    expect(await a.lease('a', 5000, 10_000)).toBe(true); // renewed until 15000
    expect(await b.lease('b', 14_999, 10_000)).toBe(false);
    expect(await b.lease('b', 15_001, 10_000)).toBe(true); // expired: taken over
    expect(await a.lease('a', 15_002, 10_000)).toBe(false);
    expect(await b.lease('b', 15_003, 0)).toBe(true); // released
    expect(await a.lease('a', 15_004, 10_000)).toBe(true);
  });

  it('concurrent claims: exactly one wins', async () => {
    const name = `lease-${Math.random()}`;
    const stores = Array.from({ length: 5 }, () => openStore({ name }));
    opened.push(...stores);
    const won = await Promise.all(stores.map((s, i) => s.lease(`tab-${i}`, 1000, 10_000)));
    expect(won.filter(Boolean)).toHaveLength(1);
  });
});
