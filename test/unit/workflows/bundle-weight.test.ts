import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * Every workflow run evaluates its own copy of the modules it imports, so what src/workflows loads at import time
 * is paid per running workflow (see src/workflows/lazy-domain.ts). zod alone is ~530 KB per run: it must stay out
 * of the modules the workflow entry point loads eagerly.
 */
const ROOT = path.resolve(__dirname, '..', '..', '..');
const ENTRY = path.join(ROOT, 'src', 'workflows', 'index.ts');
const HEAVY = ['zod', 'decimal.js'];

/** Module specifiers a file loads at run time: type-only imports and re-exports do not count; `require()` is lazy. */
function eagerImports(file: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause;
      const spec = (statement.moduleSpecifier as ts.StringLiteral).text;
      if (!clause) {
        out.push(spec); // side-effect import
        continue;
      }
      if (clause.isTypeOnly) continue;
      const named = clause.namedBindings;
      const valueNamed =
        named !== undefined && (ts.isNamespaceImport(named) || named.elements.some((element) => !element.isTypeOnly));
      if (clause.name || valueNamed) out.push(spec);
    } else if (ts.isExportDeclaration(statement) && statement.moduleSpecifier && !statement.isTypeOnly) {
      const named = statement.exportClause;
      if (!named || ts.isNamespaceExport(named) || named.elements.some((element) => !element.isTypeOnly)) {
        out.push((statement.moduleSpecifier as ts.StringLiteral).text);
      }
    }
  }
  return out;
}

function resolveLocal(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(candidate)) return candidate;
  throw new Error(`cannot resolve ${spec} from ${path.relative(ROOT, from)}`);
}

/** Every eager path from the workflow entry point to a heavy package, as `a → b → package`. */
function heavyPaths(): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const walk = (file: string, trail: string[]) => {
    if (seen.has(file)) return;
    seen.add(file);
    const here = [...trail, path.relative(ROOT, file)];
    for (const spec of eagerImports(file)) {
      if (HEAVY.some((pkg) => spec === pkg || spec.startsWith(`${pkg}/`))) found.push([...here, spec].join(' → '));
      const local = resolveLocal(file, spec);
      if (local) walk(local, here);
    }
  };
  walk(ENTRY, []);
  return found;
}

describe('workflow bundle weight', () => {
  it('loads neither zod nor decimal.js eagerly from the workflow entry point', () => {
    expect(heavyPaths()).toEqual([]);
  });

  it('would notice a workflow module importing zod-backed domain code eagerly', () => {
    // The walker itself: src/domain/orders/order-request.ts reaches zod directly.
    const file = path.join(ROOT, 'src', 'domain', 'orders', 'order-request.ts');
    expect(eagerImports(file)).toContain('zod');
    expect(eagerImports(path.join(ROOT, 'src', 'workflows', 'lazy-domain.ts'))).toEqual([]);
  });
});
