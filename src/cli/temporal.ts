import { Client, Connection } from '@temporalio/client';
import { connectionOptions, readTemporalEnv, type TemporalEnv } from '../config/temporal-env';

export interface CliContext {
  readonly client: Client;
  readonly env: TemporalEnv;
}

export class TemporalUnreachableError extends Error {
  override readonly name = 'TemporalUnreachableError';
}

/** Opens one client connection for a CLI command and always closes it. */
export async function withTemporal<T>(fn: (ctx: CliContext) => Promise<T>): Promise<T> {
  const env = readTemporalEnv();
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...connectionOptions(env), connectTimeout: '3 seconds' });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new TemporalUnreachableError(
      `Temporal is not reachable at ${env.TEMPORAL_ADDRESS} (${reason}). Start it with 'npm run temporal' or set TEMPORAL_ADDRESS.`,
    );
  }
  try {
    return await fn({ client: new Client({ connection, namespace: env.TEMPORAL_NAMESPACE }), env });
  } finally {
    await connection.close();
  }
}
