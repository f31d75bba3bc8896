/**
 * Paper broker state. The JSON file store writes atomically (temp file in the same directory, fsync,
 * rename), so a worker killed mid-write leaves either the old or the new state, never half of one. A
 * corrupt file is an error, not an empty book: silently forgetting open orders would be worse.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';

export const PAPER_STATE_VERSION = 1;

const ExecutionSchema = z.object({
  id: z.string(),
  quantity: z.number(),
  price: z.string(),
  timestamp: z.string(),
});

export const PaperStatus = {
  New: 'new',
  PartiallyFilled: 'partially_filled',
  Filled: 'filled',
  Canceled: 'canceled',
} as const;
export type PaperStatus = (typeof PaperStatus)[keyof typeof PaperStatus];

export const PaperOrderRecordSchema = z.object({
  brokerOrderId: z.string(),
  clientOrderId: z.string(),
  symbol: z.string(),
  side: z.enum(['buy', 'sell']),
  quantity: z.number().int().positive(),
  limitPrice: z.string(),
  timeInForce: z.enum(['day', 'gtc']),
  status: z.enum(['new', 'partially_filled', 'filled', 'canceled']),
  executions: z.array(ExecutionSchema),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Trades at or before this SIP ns have been considered. */
  watermarkNs: z.string().regex(/^\d+$/),
  /** The quote whose displayed size this order already took from, and how much it took. */
  quoteNs: z.string().nullable(),
  quoteSizeUsed: z.number(),
});
export type PaperOrderRecord = z.output<typeof PaperOrderRecordSchema>;

export const PaperStateSchema = z.object({
  version: z.literal(PAPER_STATE_VERSION),
  /** Keyed by client order id: the idempotency key. */
  orders: z.record(z.string(), PaperOrderRecordSchema),
});
export type PaperState = z.output<typeof PaperStateSchema>;

export function emptyPaperState(): PaperState {
  return { version: PAPER_STATE_VERSION, orders: {} };
}

export interface PaperStore {
  load(): Promise<PaperState>;
  save(state: PaperState): Promise<void>;
  /** Where the state lives, for `flowguard health`. */
  readonly where?: string;
  /** Throws when a save would fail now (directory missing and not creatable, not writable, disk full). */
  checkWritable?(): Promise<void>;
}

/** For tests and throwaway demos: survives nothing but keeps the same semantics (deep copies). */
export class MemoryPaperStore implements PaperStore {
  readonly where = 'memory (not durable)';
  private snapshot = JSON.stringify(emptyPaperState());
  load(): Promise<PaperState> {
    return Promise.resolve(PaperStateSchema.parse(JSON.parse(this.snapshot)));
  }
  save(state: PaperState): Promise<void> {
    this.snapshot = JSON.stringify(state);
    return Promise.resolve();
  }
}

export class JsonFilePaperStore implements PaperStore {
  constructor(readonly path: string) {}

  get where(): string {
    return this.path;
  }

  /** Writes and removes a probe file next to the state: the same directory, permissions and disk a save uses. */
  async checkWritable(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const probe = `${this.path}.${process.pid}.${randomBytes(6).toString('hex')}.probe`;
    const handle = await open(probe, 'w');
    try {
      await handle.writeFile('ok\n', 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
      await unlink(probe).catch(() => undefined);
    }
  }

  async load(): Promise<PaperState> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyPaperState();
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`paper broker state ${this.path} is not valid JSON; move it aside to start an empty book`);
    }
    const parsed = PaperStateSchema.safeParse(json);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new Error(
        `paper broker state ${this.path} is invalid (${first ? `${first.path.join('.')}: ${first.message}` : 'unknown'})`,
      );
    }
    return parsed.data;
  }

  async save(state: PaperState): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(`${JSON.stringify(state, null, 2)}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(tmp, this.path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }
}
