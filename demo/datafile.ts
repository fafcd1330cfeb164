// A small Optimizely datafile (format v4), bundled with the page so the demo needs no
// network beyond its local collector. In an app you would fetch yours from the CDN or
// ship it with the build; this one has what the demo needs:
//
// - the flag `new_checkout` with a string variable `button_label`;
// - an A/B test on it, `checkout_redesign`, over 80% of users (40% `control`, 40%
//   `one_click`);
// - the rollout's "Everyone Else" rule for the other 20%: the flag is off;
// - the event `purchase` (the conversion the demo tracks).
//
// `sendFlagDecisions` makes the SDK send an impression for rollout decisions too, so every
// "Decide" produces one event and every "Track" one more.
export const FLAG_KEY = 'new_checkout';
export const EVENT_KEY = 'purchase';

export const datafile = {
  version: '4',
  accountId: '10200001',
  projectId: '20200001',
  environmentKey: 'demo',
  sdkKey: 'sw-outbox-demo',
  revision: '12',
  anonymizeIP: true,
  botFiltering: false,
  sendFlagDecisions: true,
  attributes: [],
  audiences: [],
  typedAudiences: [],
  groups: [],
  integrations: [],
  events: [{ id: '30200001', key: EVENT_KEY, experimentIds: ['40200001'] }],
  featureFlags: [
    {
      id: '50200001',
      key: FLAG_KEY,
      rolloutId: '60200001',
      experimentIds: ['40200001'],
      variables: [{ id: '70200001', key: 'button_label', type: 'string', defaultValue: 'Checkout' }],
    },
  ],
  experiments: [
    {
      id: '40200001',
      key: 'checkout_redesign',
      layerId: '40200009',
      status: 'Running',
      audienceIds: [],
      audienceConditions: [],
      forcedVariations: {},
      variations: [
        { id: '80200001', key: 'control', featureEnabled: true, variables: [{ id: '70200001', value: 'Checkout' }] },
        { id: '80200002', key: 'one_click', featureEnabled: true, variables: [{ id: '70200001', value: 'Buy in one click' }] },
      ],
      trafficAllocation: [
        { entityId: '80200001', endOfRange: 4000 },
        { entityId: '80200002', endOfRange: 8000 },
      ],
    },
  ],
  rollouts: [
    {
      id: '60200001',
      experiments: [
        {
          id: '90200001',
          key: 'default-rollout-50200001',
          layerId: '60200001',
          status: 'Running',
          audienceIds: [],
          audienceConditions: [],
          forcedVariations: {},
          variations: [{ id: '90200002', key: 'off', featureEnabled: false, variables: [] }],
          trafficAllocation: [{ entityId: '90200002', endOfRange: 10000 }],
        },
      ],
    },
  ],
};
