import { readFile } from 'node:fs/promises';
import { CONFIG_FILE_ENV, resolveConfig, type AppConfig } from '../domain/config';
import { ValidationError } from '../domain/validation';
import { errorMessage } from '../shared/error-message';

/**
 * Reads the optional JSON file named by FLOWGUARD_CONFIG and the FLOWGUARD_* environment variables, and
 * returns the validated configuration. Throws ValidationError naming the variable or JSON path at fault.
 */
export async function loadConfig(env: NodeJS.ProcessEnv = process.env): Promise<AppConfig> {
  const path = env[CONFIG_FILE_ENV]?.trim();
  const file = path ? await readConfigFile(path) : undefined;
  return resolveConfig({ env, file });
}

export async function readConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(err);
    throw new ValidationError([{ field: CONFIG_FILE_ENV, rule: `cannot read ${path}: ${why}` }]);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ValidationError([
      {
        field: CONFIG_FILE_ENV,
        rule: `${path} is not valid JSON: ${errorMessage(err)}`,
      },
    ]);
  }
}
