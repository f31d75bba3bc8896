/** A JSON number, digit string or bigint from Polygon's wire format as text; null for anything else. */
export function wireText(value: unknown): string | null {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : null;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string' && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(value)) return value;
  return null;
}

export function wireNumber(value: unknown): number {
  const text = wireText(value);
  return text === null ? 0 : Number(text);
}
