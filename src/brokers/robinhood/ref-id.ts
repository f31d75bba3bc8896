/**
 * Robinhood's idempotency key is `ref_id`, a UUID. flowguard derives it from the client order id with a
 * name-based UUID (RFC 4122 version 5: SHA-1 over namespace + name), so every retry of the same order
 * sends the same ref_id and Robinhood refuses a second order ("Order with this ref_id already exists").
 */
import { createHash } from 'node:crypto';

/** flowguard's fixed namespace for ref_ids; changing it would break idempotency across a deploy. */
export const FLOWGUARD_REF_ID_NAMESPACE = '6f1c7a52-4b1e-4d0a-9f3e-2c8b5d7e9a10';

function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`not a UUID: ${uuid}`);
  return Buffer.from(hex, 'hex');
}

export function uuidV5(name: string, namespace: string): string {
  const hash = createHash('sha1').update(uuidBytes(namespace)).update(name, 'utf8').digest();
  const b = hash.subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50; // version 5
  b[8] = (b[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function refIdForClientOrderId(clientOrderId: string): string {
  return uuidV5(clientOrderId, FLOWGUARD_REF_ID_NAMESPACE);
}
