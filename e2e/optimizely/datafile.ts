// The harness's Optimizely project (datafile format v4, read by SDK v4, v5 and v6 alike),
// bundled, so no SDK ever asks a CDN for it:
//
// - the flag `checkout_flow` (variable `label`): an A/B test `checkout_test` over 70% of
//   users (`control`, `treatment`), and the rollout's "Everyone Else" rule for the rest
//   (`on`);
// - a legacy A/B test `headline_test` (for `activate` in v4/v5) over every user;
// - the attribute `plan`, and the event `purchase`.
//
// `sendFlagDecisions` makes rollout decisions send an impression too, so every decide,
// every activate and every track produces exactly one event. `botFiltering` adds the
// `$opt_bot_filtering` attribute to every visitor.
export const FLAG_KEY = 'checkout_flow';
export const EXPERIMENT_KEY = 'headline_test';
export const EVENT_KEY = 'purchase';

const rule = (id: string, key: string, layerId: string, variations: { id: string; key: string; on: boolean }[], ends: number[]) => ({
  id,
  key,
  layerId,
  status: 'Running',
  audienceIds: [],
  audienceConditions: [],
  forcedVariations: {},
  variations: variations.map((v) => ({
    id: v.id,
    key: v.key,
    featureEnabled: v.on,
    variables: [{ id: '70300001', value: `${v.key} ✓` }],
  })),
  trafficAllocation: variations.map((v, i) => ({ entityId: v.id, endOfRange: ends[i]! })),
});

export const datafileObject = {
  version: '4',
  accountId: '10300001',
  projectId: '20300001',
  environmentKey: 'e2e',
  sdkKey: 'sw-outbox-e2e-optimizely',
  revision: '7',
  anonymizeIP: true,
  botFiltering: true,
  sendFlagDecisions: true,
  attributes: [{ id: '30300009', key: 'plan' }],
  audiences: [],
  typedAudiences: [],
  groups: [],
  integrations: [],
  events: [{ id: '30300001', key: EVENT_KEY, experimentIds: ['40300001', '40400001'] }],
  featureFlags: [
    {
      id: '50300001',
      key: FLAG_KEY,
      rolloutId: '60300001',
      experimentIds: ['40300001'],
      variables: [{ id: '70300001', key: 'label', type: 'string', defaultValue: 'Checkout' }],
    },
  ],
  experiments: [
    rule(
      '40300001',
      'checkout_test',
      '40300009',
      [
        { id: '80300001', key: 'control', on: true },
        { id: '80300002', key: 'treatment', on: true },
      ],
      [3500, 7000],
    ),
    {
      ...rule(
        '40400001',
        EXPERIMENT_KEY,
        '40400009',
        [
          { id: '80400001', key: 'plain', on: false },
          { id: '80400002', key: 'bold', on: false },
        ],
        [5000, 10000],
      ),
      // A legacy A/B test has no flag variables.
      variations: [
        { id: '80400001', key: 'plain', featureEnabled: false, variables: [] },
        { id: '80400002', key: 'bold', featureEnabled: false, variables: [] },
      ],
    },
  ],
  rollouts: [
    {
      id: '60300001',
      experiments: [rule('90300001', 'default-rollout-50300001', '60300001', [{ id: '90300002', key: 'on', on: true }], [10000])],
    },
  ],
};

/** The datafile as the SDKs take it: JSON text. */
export const datafile = JSON.stringify(datafileObject);
