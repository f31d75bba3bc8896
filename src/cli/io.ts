import { ValidationError } from '../domain/validation';
import { errorMessage } from '../shared/error-message';

/** Bad command-line input that is not a domain validation failure (missing file, unknown flag value). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const ExitCode = { Ok: 0, Failure: 1, InvalidInput: 2 } as const;

/**
 * Commander parser for an option whose values are a fixed set of lower-case words (--side, --broker,
 * --data-mode, ...): `--side BUY` means buy. Symbols stay case-sensitive; they are not an enum.
 */
export function enumOption(value: string): string {
  return value.trim().toLowerCase();
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Wraps a command action with flowguard's exit-code contract: 0 ok, 2 invalid input (message on stderr
 * naming field and rule, nothing on stdout), 1 runtime failure. Actions may return a non-zero code.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void> | number | void) {
  return async (...args: A): Promise<void> => {
    try {
      const code = await fn(...args);
      process.exitCode = code ?? ExitCode.Ok;
    } catch (err) {
      process.exitCode = reportError(err);
    }
  };
}

export function reportError(err: unknown): number {
  if (err instanceof ValidationError) {
    for (const issue of err.issues) process.stderr.write(`invalid input: ${issue.field}: ${issue.rule}\n`);
    return ExitCode.InvalidInput;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`invalid input: ${err.message}\n`);
    return ExitCode.InvalidInput;
  }
  const message = errorMessage(err);
  process.stderr.write(`error: ${message}\n`);
  return ExitCode.Failure;
}
