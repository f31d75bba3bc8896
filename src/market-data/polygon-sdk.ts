export type PolygonSdk = typeof import('@polygon.io/client-js', { with: { 'resolution-mode': 'import' } });

/** @polygon.io/client-js 8 ships as ESM only; a real dynamic import loads it from this CommonJS project. */
export async function loadPolygonSdk(): Promise<PolygonSdk> {
  return import('@polygon.io/client-js');
}
