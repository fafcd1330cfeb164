import type { IncomingMessage, ServerResponse } from 'node:http';
export function startStaticServer(options: {
  roots: Record<string, string>;
  host?: string;
  port?: number;
  headers?: Record<string, string>;
  routes?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
}): Promise<{ port: number; origin: string; close(): Promise<void> }>;
