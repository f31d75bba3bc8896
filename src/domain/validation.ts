import { type z } from 'zod';

/** One broken rule on one field: `field` is a dotted path ("order.quantity"), `rule` a human sentence. */
export interface ValidationIssue {
  readonly field: string;
  readonly rule: string;
}

/**
 * Raised for bad input at any boundary. The message lists every issue as `field: rule`, so a CLI user
 * or an operator reading a failed workflow sees which field broke which rule without a stack trace.
 */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(readonly issues: readonly ValidationIssue[]) {
    super(issues.map((i) => `${i.field}: ${i.rule}`).join('; '));
  }
}

export function issuesFromZod(error: z.ZodError, prefix?: string): ValidationIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    const field = [prefix, path].filter((p) => p !== undefined && p !== '').join('.') || prefix || '(input)';
    return { field, rule: issue.message };
  });
}

/** Parses with a zod schema and throws a ValidationError naming each field and rule on failure. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, prefix?: string): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(issuesFromZod(result.error, prefix));
  return result.data;
}
