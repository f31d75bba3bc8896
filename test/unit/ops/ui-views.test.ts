/**
 * The README's Temporal UI views (issue 12 item 9): the links `npm run temporal` prints are the ones documented,
 * and every column and query term is a search attribute the dev server registers, so a renamed attribute
 * cannot leave the documented view showing empty columns.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { UI_VIEWS, uiViewUrl } from '../../../src/dev/temporal-dev-server';
import { SEARCH_ATTRIBUTE_FLAGS } from '../../../src/shared/contracts';

const README = readFileSync(path.join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
const REGISTERED = new Set(SEARCH_ATTRIBUTE_FLAGS.map((flag) => flag.split('=')[0]!));
const SYSTEM = new Set(['WorkflowType', 'ExecutionStatus']);

describe('Temporal UI views', () => {
  it.each(UI_VIEWS.map((v) => [v.name, v] as const))('%s is documented with its link and columns', (_name, view) => {
    const row = README.split('\n').find((line) => line.startsWith(`| ${view.name} |`));
    expect(row).toBeDefined();
    expect(row).toContain(uiViewUrl('http://127.0.0.1:8233', 'default', view.query));
    expect(row).toContain(view.columns.join(', '));
  });

  it.each(UI_VIEWS.map((v) => [v.name, v] as const))('%s uses only registered search attributes', (_name, view) => {
    for (const column of view.columns) expect(REGISTERED).toContain(column);
    const terms = [...view.query.matchAll(/([A-Za-z]+)\s*=/g)].map((m) => m[1]!);
    expect(terms.length).toBeGreaterThan(0);
    for (const term of terms) expect(SYSTEM.has(term) || REGISTERED.has(term)).toBe(true);
    expect(README).toContain('OrderState');
  });
});
