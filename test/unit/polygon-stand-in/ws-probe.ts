import WebSocket from 'ws';

/** A raw `ws` client that records every array the stand-in sends, for protocol-level assertions. */
export interface WsProbe {
  readonly ws: WebSocket;
  readonly frames: unknown[][];
  send(message: unknown): void;
  /** Resolves with the first received element matching `predicate` (already received ones count). */
  waitFor(
    predicate: (element: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  elements(): Record<string, unknown>[];
  closed: Promise<{ code: number }>;
}

export async function openProbe(url: string): Promise<WsProbe> {
  const ws = new WebSocket(url);
  const frames: unknown[][] = [];
  const listeners: (() => void)[] = [];
  ws.on('message', (data: Buffer) => {
    frames.push(JSON.parse(data.toString('utf8')) as unknown[]);
    listeners.forEach((l) => l());
  });
  const closed = new Promise<{ code: number }>((resolve) => ws.on('close', (code) => resolve({ code })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const elements = () => frames.flat() as Record<string, unknown>[];
  return {
    ws,
    frames,
    closed,
    elements,
    send: (message) => ws.send(JSON.stringify(message)),
    waitFor: (predicate, timeoutMs = 3000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = elements().find(predicate);
          if (found) {
            clearTimeout(timer);
            resolve(found);
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => reject(new Error('timed out waiting for a WebSocket message')), timeoutMs);
        if (!check()) listeners.push(() => void check());
      }),
  };
}
