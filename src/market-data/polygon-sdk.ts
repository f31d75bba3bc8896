// A type-only `import()` is the one way to name an ESM-only package's types from CommonJS (no runtime require).
// eslint-disable-next-line @typescript-eslint/consistent-type-imports, @typescript-eslint/no-unsafe-assignment
export type PolygonSdk = typeof import('@polygon.io/client-js', { with: { 'resolution-mode': 'import' } });

/** @polygon.io/client-js 8 ships as ESM only; a real dynamic import loads it from this CommonJS project. */
export async function loadPolygonSdk(): Promise<PolygonSdk> {
  return import('@polygon.io/client-js');
}
