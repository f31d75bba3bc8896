import fs from 'node:fs';
import path from 'node:path';
import { readScenarioDir, type StandInRecord } from './polygon-stand-in';

export const SCENARIO_DIR = path.resolve(__dirname, '..', 'fixtures', 'scenarios');

export interface ExpectedScenario {
  readonly description: string;
  readonly alerts: readonly Record<string, unknown>[];
  readonly exitSignal: { readonly reason: string; readonly timestampNs: string } | null;
}

export function scenarioNames(): string[] {
  return fs.readdirSync(SCENARIO_DIR).filter((d) => fs.existsSync(path.join(SCENARIO_DIR, d, 'expected.json')));
}

export function loadScenario(name: string) {
  const dir = path.join(SCENARIO_DIR, name);
  const records = readScenarioDir(dir);
  const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as ExpectedScenario;
  return { ...records, expected };
}

const TIMESTAMP_FIELDS = ['sip_timestamp', 'participant_timestamp', 'trf_timestamp'];

/** An integer timestamp as the stand-in's lossless reader gives it (LosslessNumber, bigint, digits, number). */
function nsValue(v: unknown): bigint | null {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  const text =
    typeof v === 'string'
      ? v
      : v && typeof v === 'object' && 'isLosslessNumber' in v
        ? String((v as unknown as { value: string }).value)
        : null;
  return text !== null && /^\d+$/.test(text) ? BigInt(text) : null;
}

/** Moves every timestamp of the records by `deltaNs`, exactly (they exceed 2^53). */
export function shiftRecords(records: readonly StandInRecord[], deltaNs: bigint): StandInRecord[] {
  return records.map((r) => {
    if (!r || typeof r !== 'object') return r;
    const out: StandInRecord = { ...r };
    for (const f of TIMESTAMP_FIELDS) {
      const ns = nsValue(r[f]);
      if (ns !== null) out[f] = ns + deltaNs;
    }
    return out;
  });
}

export function firstTimestamp(records: readonly StandInRecord[]): bigint {
  let min: bigint | null = null;
  for (const r of records) {
    const ns = r && typeof r === 'object' ? nsValue(r.sip_timestamp) : null;
    if (ns !== null && (min === null || ns < min)) min = ns;
  }
  if (min === null) throw new Error('no timestamps');
  return min;
}
