/**
 * Masks secrets in values that end up in workflow history, order status and audit logs.
 * Secrets (tokens, keys, passwords) are replaced entirely; account numbers keep their last 4 characters so
 * an operator can still tell two accounts apart.
 */

export const MASK = '***';

// Keys compared after lower-casing and dropping everything but letters and digits, so `api_key`, `apiKey`,
// `APCA-API-KEY-ID` and `X-Api-Key` all normalise to something matched here.
const SECRET_KEY_PARTS = ['token', 'secret', 'password', 'passwd', 'authorization', 'apikey', 'cookie', 'mfacode'];
const ACCOUNT_KEYS = new Set(['accountnumber', 'accountno', 'accountid', 'account', 'rhsaccountnumber']);
const SECRET_QUERY_PARAMS = new Set(['apikey', 'token', 'accesstoken', 'secret', 'key', 'password']);

function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function isSecretKey(key: string): boolean {
  const k = normaliseKey(key);
  return SECRET_KEY_PARTS.some((part) => k.includes(part));
}

function isAccountKey(key: string): boolean {
  return ACCOUNT_KEYS.has(normaliseKey(key));
}

/** `****1234`: keeps the last 4 characters of values long enough that 4 characters do not reveal them. */
export function maskKeepLast4(value: string): string {
  if (value.length <= 4) return '****';
  return `****${value.slice(-4)}`;
}

/**
 * Masks secret query parameters (apiKey, token, ...) and account numbers in `/accounts/{n}` path segments.
 * Regex-based on purpose: the URL is otherwise returned byte for byte (no normalisation).
 */
export function maskUrl(url: string): string {
  const withQuery = url.replace(/([?&])([^=&#]+)=([^&#]*)/g, (whole, sep: string, name: string) =>
    SECRET_QUERY_PARAMS.has(normaliseKey(decodeSafe(name))) ? `${sep}${name}=${MASK}` : whole,
  );
  return withQuery.replace(/(\/accounts\/|\/positions\/)([^/?#]+)/gi, (_w, prefix: string, id: string) => {
    return `${prefix}${maskKeepLast4(id)}`;
  });
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const URL_LIKE = /^(https?|wss?):\/\//i;
const BEARER = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+/g;

/** Masks a free-standing string: URLs and `Bearer xyz` credentials inside it. */
export function maskString(value: string): string {
  const masked = URL_LIKE.test(value) ? maskUrl(value) : value;
  return masked.replace(BEARER, (_w, scheme: string) => `${scheme} ${MASK}`);
}

function maskUnderKey(key: string, value: unknown, depth: number): unknown {
  if (value === null || value === undefined) return value;
  if (isSecretKey(key)) return typeof value === 'string' && value.length === 0 ? value : MASK;
  if (isAccountKey(key)) {
    if (typeof value === 'string') return URL_LIKE.test(value) ? maskUrl(value) : maskKeepLast4(value);
    if (typeof value === 'number' || typeof value === 'bigint') return maskKeepLast4(String(value));
  }
  return maskValue(value, depth);
}

function maskValue(value: unknown, depth: number): unknown {
  if (depth > 64) return MASK; // a pathological (or cyclic-looking) structure is not worth the risk
  if (typeof value === 'string') return maskString(value);
  if (Array.isArray(value)) return value.map((v) => maskValue(v, depth + 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = maskUnderKey(k, v, depth + 1);
    return out;
  }
  return value;
}

/** Returns a masked deep copy of any JSON-like value; the input is not modified. */
export function maskSecrets<T>(value: T): T {
  return maskValue(value, 0) as T;
}
