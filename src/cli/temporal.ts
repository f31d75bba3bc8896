import type * as TemporalClientModule from '@temporalio/client';
import type { Client, Connection } from '@temporalio/client';
import { connectionOptions, readTemporalEnv, type TemporalEnv } from '../config/temporal-env';
import { errorMessage } from '../shared/error-message';

export interface CliContext {
  readonly client: Client;
  readonly env: TemporalEnv;
}

export class TemporalUnreachableError extends Error {
  override readonly name = 'TemporalUnreachableError';
}

/**
 * The operating-system reason inside a Temporal connection error: Core reports a refused connection as
 * `tonic::transport::Error(Transport, ConnectError(... message: "Connection refused" ...))`, which tells a
 * person nothing the reason alone does not.
 */
export function connectFailureReason(err: unknown): string {
  const text = errorMessage(err);
  const os = /message: "([^"]+)"/.exec(text)?.[1];
  if (os !== undefined) return os;
  if (/tonic::transport|ConnectError/.test(text)) return 'connection failed';
  return text;
}

/** The one hint worker and CLI give when Temporal cannot be reached. */
export function temporalUnreachable(address: string, err: unknown): TemporalUnreachableError {
  return new TemporalUnreachableError(
    `Temporal is not reachable at ${address} (${connectFailureReason(err)}). ` +
      `Start it with 'npm run temporal' or set TEMPORAL_ADDRESS.`,
  );
}

let clientModule: typeof TemporalClientModule | undefined;

/**
 * @temporalio/client, loaded on first use: it is most of the CLI's start-up cost, and `--help`, `order preview` and
 * `replay` never talk to Temporal. Its error classes match with instanceof whichever copy made them.
 */
export function temporalClient(): typeof TemporalClientModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  clientModule ??= require('@temporalio/client') as typeof TemporalClientModule;
  return clientModule;
}

/** Temporal's WorkflowNotFoundError (no workflow with that id, or it is gone). */
export function isWorkflowNotFound(err: unknown): boolean {
  return err instanceof temporalClient().WorkflowNotFoundError;
}

/** Opens one client connection for a CLI command and always closes it. */
export async function withTemporal<T>(fn: (ctx: CliContext) => Promise<T>): Promise<T> {
  const env = readTemporalEnv();
  const { Client, Connection } = temporalClient();
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...connectionOptions(env), connectTimeout: '3 seconds' });
  } catch (err) {
    throw temporalUnreachable(env.TEMPORAL_ADDRESS, err);
  }
  try {
    return await fn({ client: new Client({ connection, namespace: env.TEMPORAL_NAMESPACE }), env });
  } finally {
    await connection.close();
  }
}
