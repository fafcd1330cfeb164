// @ts-check
// The benchmark's event: an Optimizely-style conversion (the shape of makeParams in
// e2e/fixtures.ts), with the decisions and attributes a real SDK event carries, padded to
// EVENT_BYTES of JSON (UTF-8). Shared by the Node side, the bench pages and the Workbox
// peer worker. Every event has its own uuid, which is how the collector counts them.

export const EVENT_BYTES = 1024;

const encoder = new TextEncoder();

/**
 * @param {string} uuid
 * @param {string} visitor
 * @returns {Record<string, unknown>}
 */
export function makeParams(uuid, visitor) {
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
    client_name: 'sw-outbox-bench',
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
  // Pad with one more custom attribute so the JSON is EVENT_BYTES long (UTF-8).
  const pad = { entity_id: '20345503', key: 'session_tags', type: 'custom', value: '' };
  attributes.push(pad);
  const short = encoder.encode(JSON.stringify(params)).length;
  pad.value = 'x'.repeat(Math.max(0, EVENT_BYTES - short));
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
