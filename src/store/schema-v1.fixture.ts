// A fixture of schema version 1, for upgrade tests: a database exactly as version 1 of
// the store created it (schema.ts: createV1), with events queued. Self-contained (no
// imports, no closures), so Playwright can run it in a page too.

export interface V1Record {
  id: string;
  url: string;
  body: string;
  createdAt: number;
  nextAttemptAt: number;
  attempts: number;
  tries: number;
  hold?: 'offline' | 'network' | 'server';
  lastStatus?: number;
}

export async function createV1Database(args: { name: string; records: V1Record[]; queuedCounter?: number }): Promise<void> {
  const { name, records } = args;
  await new Promise<void>((resolve, reject) => {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      const queue = db.createObjectStore('queue', { keyPath: 'seq', autoIncrement: true });
      queue.createIndex('id', 'id', { unique: true });
      queue.createIndex('nextAttemptAt', 'nextAttemptAt');
      queue.createIndex('hold', 'hold');
      const dead = db.createObjectStore('dead', { keyPath: 'seq' });
      dead.createIndex('id', 'id');
      db.createObjectStore('meta');
    };
    request.onsuccess = () => {
      const db = request.result;
      const tx = db.transaction(['queue', 'meta'], 'readwrite');
      for (const record of records) tx.objectStore('queue').add(record);
      const queued = args.queuedCounter ?? records.length;
      tx.objectStore('meta').put({ queued, deadLettered: 0, delivered: 0, dropped: 0, retried: 0 }, 'counters');
      tx.oncomplete = () => {
        db.close();
        resolve();
      };
      tx.onerror = () => reject(tx.error);
    };
    request.onerror = () => reject(request.error);
  });
}
