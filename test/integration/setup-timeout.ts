import { findWorkflowTaskFailures } from '../support/temporal-harness';

// Integration tests talk to a real server and spawn real processes: allow them time.
jest.setTimeout(60_000);

// A failed workflow task in any test is a bug, even when the test's own assertions passed.
afterAll(async () => {
  const failures = await findWorkflowTaskFailures();
  if (failures.length > 0) {
    throw new Error(`workflows recorded failed workflow tasks:\n  ${failures.join('\n  ')}`);
  }
});
