import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

function envExampleVariables(): string[] {
  return read('.env.example')
    .split('\n')
    .map((line) => /^([A-Z][A-Z0-9_]*)=/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}

describe('deployment files', () => {
  it('passes every .env.example variable to the worker container', () => {
    const compose = read('docker-compose.yml');
    const workerSection = compose.slice(compose.indexOf('\n  worker:'));
    const missing = envExampleVariables().filter((name) => !new RegExp(`\\n\\s+${name}:`).test(workerSection));
    expect(missing).toEqual([]);
  });

  it('documents every .env.example variable and every FLOWGUARD_* setting in the README', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { CONFIG_ENV_VARS } = require('../../../src/domain/config') as { CONFIG_ENV_VARS: { name: string }[] };
    const readme = read('README.md');
    const names = [...envExampleVariables(), ...CONFIG_ENV_VARS.map((v) => v.name)];
    expect(names.filter((n) => !readme.includes(`\`${n}\``))).toEqual([]);
    // ...and .env.example lists every setting too.
    expect(CONFIG_ENV_VARS.map((v) => v.name).filter((n) => !envExampleVariables().includes(n))).toEqual([]);
  });

  it('registers the same search attributes in docker compose and npm run cluster as the dev server', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { SEARCH_ATTRIBUTE_FLAGS } = require('../../../src/shared/contracts') as { SEARCH_ATTRIBUTE_FLAGS: string[] };
    // setup-namespace.sh registers exactly the lines of deploy/temporal/search-attributes.
    const listed = read('deploy/temporal/search-attributes')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect([...listed].sort()).toEqual([...SEARCH_ATTRIBUTE_FLAGS].sort());
    expect(read('deploy/temporal/setup-namespace.sh')).toContain('search-attributes');
  });

  // Checked with a YAML parser, not docker-compose: no package to install for the test run (the suite used to
  // apt-get docker-compose), and the rules below are what `docker compose config` would refuse us for.
  it('docker-compose.yml parses and its services hang together', () => {
    const text = read('docker-compose.yml');
    const doc = parseYaml(text, { merge: true }) as {
      services: Record<string, ComposeService>;
      volumes?: Record<string, unknown>;
    };
    const services = doc.services;
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['postgresql', 'temporal', 'temporal-setup', 'temporal-ui', 'worker']),
    );
    const problems: string[] = [];
    for (const [name, service] of Object.entries(services)) {
      if (!service.image && !service.build) problems.push(`${name}: neither image nor build`);
      for (const [dep, how] of Object.entries(service.depends_on ?? {})) {
        if (!services[dep]) problems.push(`${name}: depends on unknown service ${dep}`);
        else if (how.condition === 'service_healthy' && !services[dep].healthcheck) {
          problems.push(`${name}: waits for ${dep} to be healthy, which has no healthcheck`);
        }
      }
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (!source.startsWith('.') && !source.startsWith('/') && !(doc.volumes && source in doc.volumes)) {
          problems.push(`${name}: volume ${source} is not declared under volumes`);
        }
      }
      for (const [key, value] of Object.entries(service.environment ?? {})) {
        if (value !== null && typeof value === 'object') problems.push(`${name}: environment ${key} is not a scalar`);
      }
    }
    // Every interpolation is ${NAME}, ${NAME:-default} or ${NAME-default}; a typo there is a runtime surprise.
    for (const ref of text.match(/\$\{[^}]*\}/g) ?? []) {
      if (!/^\$\{[A-Z_][A-Z0-9_]*(:?-[^}]*)?\}$/.test(ref)) problems.push(`malformed interpolation ${ref}`);
    }
    expect(problems).toEqual([]);
  });
});

interface ComposeService {
  readonly image?: string;
  readonly build?: unknown;
  readonly depends_on?: Record<string, { readonly condition?: string }>;
  readonly healthcheck?: unknown;
  readonly volumes?: readonly string[];
  readonly environment?: Record<string, unknown>;
}
