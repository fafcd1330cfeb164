// Test fixture (not shipped): an Optimizely event body as the SDK sends it, with the
// given event uuids, for the content-key and batching tests.

export function optimizelyBody(uuids: string[], context: Record<string, unknown> = {}, visitor = 'v1'): string {
  return JSON.stringify({
    account_id: '1',
    project_id: '2',
    revision: '42',
    client_name: 'js',
    client_version: '6.0.0',
    anonymize_ip: true,
    enrich_decisions: true,
    ...context,
    visitors: [
      {
        visitor_id: visitor,
        attributes: [],
        snapshots: [{ decisions: [], events: uuids.map((uuid) => ({ uuid, key: 'k', timestamp: 1 })) }],
      },
    ],
  });
}
