// @ts-check
// The one event-params maker of the tests and the benchmark: an Optimizely-style
// conversion with the decisions and attributes a real SDK event carries (unicode and
// quotes on purpose), optionally padded to a size. Plain JavaScript, so that Node (the
// e2e specs, the chaos run, the bench), the bench pages and the bench's Workbox peer
// worker import the same file. Every event has its own uuid, which is how the collector
// counts them (`uuidsOf`).

/** The benchmark's event size: JSON bytes (UTF-8) of one event's params. */
export const EVENT_BYTES = 1024;

const encoder = new TextEncoder();

/**
 * Optimizely-shaped params with a unique uuid.
 * @param {string} uuid
 * @param {string} [visitor]
 * @param {{bytes?: number}} [options] bytes: pad the JSON (UTF-8) to that length
 * @returns {Record<string, unknown>}
 */
export function makeParams(uuid, visitor = 'user-1', options = {}) {
  /** @type {{entity_id: string, key: string, type: string, value: unknown}[]} */
  const attributes = [
    { entity_id: '$opt_bot_filtering', key: '$opt_bot_filtering', type: 'custom', value: true },
    { entity_id: '20345501', key: 'plan', type: 'custom', value: 'enterprise' },
    { entity_id: '20345502', key: 'country', type: 'custom', value: 'DE' },
  ];
  const params = {
    account_id: '1234567',
    project_id: '7654321',
    revision: '42',
    client_name: 'sw-outbox-test',
    client_version: '0.1.0',
    anonymize_ip: true,
    enrich_decisions: true,
    visitors: [
      {
        visitor_id: visitor,
        session_id: 'session-0001',
        attributes,
        snapshots: [
          {
            decisions: [
              {
                campaign_id: '9300001',
                experiment_id: '9300002',
                variation_id: '9300003',
                metadata: {
                  flag_key: 'new_checkout',
                  rule_key: 'checkout_test',
                  rule_type: 'experiment',
                  variation_key: 'treatment',
                  enabled: true,
                },
              },
            ],
            events: [
              {
                entity_id: '111',
                key: 'purchase',
                timestamp: 1764000000000,
                uuid,
                tags: { revenue: 4200, value: 42, currency: 'EUR', note: 'ünïcødé ✓ "quoted"' },
              },
            ],
          },
        ],
      },
    ],
  };
  if (options.bytes === undefined) return params;
  // Pad with one more custom attribute so the JSON is `bytes` long (UTF-8).
  const pad = { entity_id: '20345503', key: 'session_tags', type: 'custom', value: '' };
  attributes.push(pad);
  const short = encoder.encode(JSON.stringify(params)).length;
  pad.value = 'x'.repeat(Math.max(0, options.bytes - short));
  return params;
}

/**
 * The uuids carried by an Optimizely body (one event, or a batch: many visitors).
 * @param {any} body parsed JSON
 * @returns {string[]}
 */
export function uuidsOf(body) {
  /** @type {string[]} */
  const out = [];
  for (const visitor of body?.visitors ?? []) {
    for (const snapshot of visitor?.snapshots ?? []) {
      for (const event of snapshot?.events ?? []) if (typeof event?.uuid === 'string') out.push(event.uuid);
    }
  }
  return out;
}
