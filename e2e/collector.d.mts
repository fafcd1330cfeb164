export type Mode =
  | { kind: 'up' }
  | { kind: 'down' }
  | { kind: 'hang' }
  | { kind: 'reset' }
  | { kind: 'slow'; ms: number }
  | { kind: 'status'; status: number; retryAfter?: string };
export interface Reply {
  status?: number;
  retryAfter?: string;
  delayMs?: number;
  hang?: boolean;
  reset?: boolean;
}
export interface LoggedRequest {
  at: number;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status: number | 'hang' | 'reset';
  cookie: string | undefined;
}
export interface Collector {
  port: number;
  origin: string;
  url: string;
  log: LoggedRequest[];
  setMode(mode: Mode): Promise<void>;
  script(replies: Reply[]): void;
  delivered(): string[];
  reset(): Promise<void>;
  close(): Promise<void>;
}
export function startCollector(options?: { host?: string; port?: number }): Promise<Collector>;
