import { describe, expect, it } from 'vitest';
import { eventUuids, parseOptimizely } from '../optimizely-body.js';
import { optimizelyBody as body } from '../optimizely-body.fixture.js';
import { contentKeys, digestKey, urlTag } from './content-keys.js';

const URL_ = 'https://logx.optimizely.com/v1/events';

describe('content identity', () => {
  it('reads every event uuid of an Optimizely body, in order', () => {
    const parsed = parseOptimizely(body(['u1', 'u2']));
    expect(parsed).toBeDefined();
    expect(eventUuids(parsed!)).toEqual(['u1', 'u2']);
  });

  it('one key per event uuid for Optimizely bodies (with the URL), whatever the batching or order', async () => {
    const tag = urlTag(URL_);
    expect(tag).toMatch(/^[0-9a-f]{8}$/);
    expect(await contentKeys(URL_, body(['b', 'a']))).toEqual([`${tag}:b`, `${tag}:a`]);
    expect(await contentKeys(URL_, body(['a'], { revision: '43' }))).toEqual([`${tag}:a`]);
    // Another endpoint, another key for the same uuid.
    expect(await contentKeys('https://other.example/v1/events', body(['a']))).not.toEqual([`${tag}:a`]);
    expect(await contentKeys('https://other.example/v1/events', body(['a']))).not.toEqual(await contentKeys(URL_, body(['a'])));
  });

  it('one key for the exact body otherwise, digested when long', async () => {
    expect(await contentKeys(URL_, '{"a":1}')).toEqual([`${URL_}\nbody:{"a":1}`]);
    expect(await contentKeys(URL_, '[1,2]')).not.toEqual(await contentKeys(URL_, '[1,2,3]'));
    expect(await contentKeys(URL_, '{"visitors":[]}')).toEqual([`${URL_}\nbody:{"visitors":[]}`]);
    const long = await contentKeys(URL_, `{"x":"${'y'.repeat(300)}"}`);
    expect(long).toHaveLength(1);
    expect(long[0]).toMatch(/^sha256:[0-9a-f]{32}$/);
    expect(parseOptimizely('{not json')).toBeUndefined();
  });

  it('digests to 32 hex characters, stable and distinct', async () => {
    const a = await digestKey('a');
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(await digestKey('a')).toBe(a);
    expect(await digestKey('b')).not.toBe(a);
  });
});
