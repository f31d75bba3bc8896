import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotificationKind } from '../../../src/domain/notifications/event';
import { NOTIFY_ENV_NAMES } from '../../../src/notifications/destinations';

/**
 * The README's "Watching positions and notifications" is what a receiver is written against: every kind a
 * workflow can send has its row, every variable the worker reads for destinations is listed, and the delivery
 * guarantee and the rate limit's scope are stated.
 */
const README = readFileSync(join(__dirname, '../../../README.md'), 'utf8');

function section(title: string): string {
  const start = README.indexOf(`## ${title}`);
  expect(start).toBeGreaterThanOrEqual(0);
  const end = README.indexOf('\n## ', start + 3);
  return README.slice(start, end === -1 ? undefined : end);
}

describe('README: watching positions and notifications', () => {
  const text = section('Watching positions and notifications');

  it('has a row for every notification kind', () => {
    const rows = new Set([...text.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]));
    expect([...rows].sort()).toEqual(Object.values(NotificationKind).sort());
  });

  it('says how to watch an account, off-hours included, and how a reopened position is handled', () => {
    expect(text).toContain('flowguard positions watch');
    expect(text).toContain('positions:<broker>:<account>');
    expect(text).toContain('position:<broker>:<account>:<SYMBOL>');
    expect(text).toMatch(/\*\*Nights, weekends and holidays\.\*\*[^]*every 15 minutes/);
    expect(text).toMatch(/bought back within seconds[^]*waits for it to end/);
  });

  it('states the delivery guarantee, the idempotency key and the rate limit per worker', () => {
    expect(text).toContain('**What is guaranteed.**');
    expect(text).toContain('*at least once*');
    expect(text).toContain('Idempotency-Key');
    expect(text).toContain('**Rate limits are per worker process.**');
  });

  it('lists every variable the destinations are read from', () => {
    for (const name of NOTIFY_ENV_NAMES)
      expect({ name, listed: README.includes(name) }).toEqual({ name, listed: true });
  });
});
