import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * Workflows stay thin shells over plain state (issue 15: "no workflow function is longer than ~120 lines"): a function
 * that grows past the bound is logic that belongs in the domain's state classes, where it is tested without a server.
 * Counted from a function's first line to its last, comments included, nested functions counted in their own right
 * and in the function that holds them.
 */
const WORKFLOWS = path.resolve(__dirname, '..', '..', '..', 'src', 'workflows');
const MAX_LINES = 120;

interface Measured {
  readonly name: string;
  readonly lines: number;
}

function functionsOf(file: string, text = fs.readFileSync(file, 'utf8')): Measured[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: Measured[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const name = node.name && ts.isIdentifier(node.name) ? node.name.text : '(anonymous)';
      out.push({ name: `${path.basename(file)}:${first + 1} ${name}`, lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

const files = fs
  .readdirSync(WORKFLOWS)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => path.join(WORKFLOWS, f));

describe(`workflow functions are at most ${MAX_LINES} lines`, () => {
  it('finds the workflow functions (the measure itself works)', () => {
    const all = files.flatMap((f) => functionsOf(f));
    expect(all.some((f) => f.name.includes('positionMonitorWorkflow'))).toBe(true);
    expect(all.some((f) => f.name.includes('deskWorkflow'))).toBe(true);
    expect(all.some((f) => f.name.includes('orderWorkflow'))).toBe(true);
    expect(all.every((f) => f.lines >= 1)).toBe(true);
    const long = `export async function w(): Promise<void> {\n${'  await step();\n'.repeat(MAX_LINES)}}\n`;
    expect(functionsOf('long.ts', long)).toEqual([{ name: 'long.ts:1 w', lines: MAX_LINES + 2 }]);
  });

  it.each(files.map((f) => [path.basename(f), f]))('%s', (_name, file) => {
    const over = functionsOf(file).filter((f) => f.lines > MAX_LINES);
    expect(over).toEqual([]);
  });
});
