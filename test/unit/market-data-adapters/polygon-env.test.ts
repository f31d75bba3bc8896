import { ValidationError } from '../../../src/domain/validation';
import { readPolygonEnv } from '../../../src/market-data/polygon-env';

describe('readPolygonEnv', () => {
  it('applies defaults around the key', () => {
    expect(readPolygonEnv({ POLYGON_API_KEY: 'abc' })).toEqual({
      POLYGON_API_KEY: 'abc',
      POLYGON_BASE_URL: 'https://api.polygon.io',
      POLYGON_WS_URL: 'wss://socket.polygon.io',
    });
  });

  it('accepts a local stand-in and strips trailing slashes', () => {
    const env = readPolygonEnv({
      POLYGON_API_KEY: 'abc',
      POLYGON_BASE_URL: 'http://127.0.0.1:8080/',
      POLYGON_WS_URL: 'ws://127.0.0.1:8080',
    });
    expect(env.POLYGON_BASE_URL).toBe('http://127.0.0.1:8080');
  });

  it.each([
    [{}, 'POLYGON_API_KEY: must be set to your Polygon.io API key'],
    [{ POLYGON_API_KEY: '' }, 'POLYGON_API_KEY: must be set to your Polygon.io API key'],
    [{ POLYGON_API_KEY: 'a', POLYGON_BASE_URL: 'ftp://x' }, 'POLYGON_BASE_URL: must be a http or https URL'],
    [{ POLYGON_API_KEY: 'a', POLYGON_WS_URL: 'https://x' }, 'POLYGON_WS_URL: must be a ws or wss URL'],
  ])('names the bad variable: %j', (env, message) => {
    let error: unknown;
    try {
      readPolygonEnv(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toContain(message);
  });
});
