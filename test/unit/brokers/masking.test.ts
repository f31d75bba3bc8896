import fc from 'fast-check';
import { MASK, maskKeepLast4, maskSecrets, maskString, maskUrl } from '../../../src/domain/masking';

describe('maskSecrets', () => {
  it('masks secrets by key whatever their spelling, and keeps the last 4 of account numbers', () => {
    const input = {
      access_token: 'eyJhbGciOi.abc.def',
      refresh_token: 'r-123',
      apiKey: 'POLYKEY123',
      api_key: 'k2',
      'APCA-API-KEY-ID': 'PKABCDEF',
      'APCA-API-SECRET-KEY': 'supersecret',
      password: 'hunter2',
      Authorization: 'Bearer abc.def',
      account_number: '5RZ07024',
      nested: [{ client_secret: 'x', accountNumber: 12345678 }],
      symbol: 'TSLA',
      price: '249.93',
    };
    expect(maskSecrets(input)).toEqual({
      access_token: MASK,
      refresh_token: MASK,
      apiKey: MASK,
      api_key: MASK,
      'APCA-API-KEY-ID': MASK,
      'APCA-API-SECRET-KEY': MASK,
      password: MASK,
      Authorization: MASK,
      account_number: '****7024',
      nested: [{ client_secret: MASK, accountNumber: '****5678' }],
      symbol: 'TSLA',
      price: '249.93',
    });
  });

  it('masks account numbers inside Robinhood URLs and leaves the rest byte for byte', () => {
    const order = {
      account: 'https://api.robinhood.com/accounts/5RZ07024/',
      position: 'https://api.robinhood.com/positions/5RZ07024/921be484-02df-485a-9c67-12ab6ee36783/',
      url: 'https://api.robinhood.com/orders/6622bc70-c063-4d68-b33e-0ab27a28ce97/',
    };
    expect(maskSecrets(order)).toEqual({
      account: 'https://api.robinhood.com/accounts/****7024/',
      position: 'https://api.robinhood.com/positions/****7024/921be484-02df-485a-9c67-12ab6ee36783/',
      url: 'https://api.robinhood.com/orders/6622bc70-c063-4d68-b33e-0ab27a28ce97/',
    });
  });

  it('does not modify its input', () => {
    const input = { token: 't', list: [{ password: 'p' }] };
    const copy = structuredClone(input);
    maskSecrets(input);
    expect(input).toEqual(copy);
  });

  it('never leaks a value placed under a secret key, at any depth (property)', () => {
    const secretKeys = fc.constantFrom(
      'token',
      'api_key',
      'apiKey',
      'password',
      'secret_key',
      'Authorization',
      'X-Api-Key',
    );
    fc.assert(
      fc.property(secretKeys, fc.string({ minLength: 1 }), fc.nat(5), (key, secret, depth) => {
        let value: unknown = { [key]: secret };
        for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { level: value };
        type Nested = Record<string, unknown> & { level?: unknown };
        let out: unknown = maskSecrets(value);
        for (let i = depth - 1; i >= 0; i--) out = i % 2 === 0 ? (out as unknown[])[0] : (out as Nested).level;
        expect((out as Nested)[key]).toBe(MASK);
      }),
    );
  });
});

describe('maskUrl / maskString', () => {
  it('masks the apiKey query parameter and nothing else', () => {
    expect(maskUrl('https://api.polygon.io/v3/trades/TSLA?order=asc&apiKey=ABC123&limit=5')).toBe(
      'https://api.polygon.io/v3/trades/TSLA?order=asc&apiKey=***&limit=5',
    );
    expect(maskUrl('https://x.test/a?cursor=abc&token=zzz#frag')).toBe('https://x.test/a?cursor=abc&token=***#frag');
  });

  it('masks bearer credentials inside free text', () => {
    expect(maskString('sent Authorization: Bearer eyJ.abc.def to host')).toBe('sent Authorization: Bearer *** to host');
  });

  it('keeps only the last 4 characters, and nothing of short values', () => {
    expect(maskKeepLast4('PA3ABCDEF123')).toBe('****F123');
    expect(maskKeepLast4('1234')).toBe('****');
  });
});
