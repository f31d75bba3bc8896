import fs from 'node:fs';
import path from 'node:path';
import { CLUSTER_SERVICES } from '../../../scripts/cluster-topology';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

/** Top-level service names of docker-compose.yml (two-space indented keys under `services:`). */
function composeServices(): string[] {
  const compose = read('docker-compose.yml');
  const body = compose.slice(compose.indexOf('\nservices:\n') + '\nservices:\n'.length);
  const end = body.search(/^\S/m);
  return [...(end < 0 ? body : body.slice(0, end)).matchAll(/^ {2}([a-z][a-z0-9-]*):\s*$/gm)].map((m) => m[1]!);
}

describe('npm run cluster and docker-compose.yml describe the same topology', () => {
  it('runs a native stand-in for every compose service, and nothing compose lacks', () => {
    expect(composeServices().sort()).toEqual(Object.keys(CLUSTER_SERVICES).sort());
  });

  it('both set up Temporal with the same deploy/temporal scripts', () => {
    const compose = read('docker-compose.yml');
    const topology = read('scripts/cluster-topology.ts');
    for (const script of ['setup-schema.sh', 'setup-namespace.sh']) {
      expect(compose).toContain(`/deploy/${script}`);
      expect(topology).toContain(`'${script}'`);
    }
  });

  // The UI is left out: the cluster builds ui-server 2.50.1 (the version the CLI's module already resolves) while
  // compose keeps the temporalio/ui 2.49.1 image known to exist; the UI holds no state, so they may differ.
  it("compose's Temporal server image is the minor version the cluster builds (tools/temporal-server/go.mod)", () => {
    const gomod = read('tools/temporal-server/go.mod');
    const compose = read('docker-compose.yml');
    const minor = (v: string | undefined) => v?.split('.').slice(0, 2).join('.');
    const server = /go\.temporal\.io\/server v(\d+\.\d+\.\d+)/.exec(gomod)?.[1];
    const composeServer = /TEMPORAL_SERVER_VERSION:-(\d+\.\d+\.\d+)/.exec(compose)?.[1];
    expect(minor(composeServer)).toBe(minor(server));
  });
});
