/**
 * The zod-backed parts of the domain, loaded on first use instead of at import.
 *
 * With the reusable V8 context every workflow run evaluates its own copy of each module it imports (the SDK keeps
 * module state per run), and zod's initialisation alone costs ~530 KB of heap per run — measured against a
 * trivial workflow's ~70 KB. Position monitors are the many long-lived workflows of a worker and never validate
 * an order, so nothing they import may pull zod in at load time: the order and desk workflows reach the order
 * domain, and the monitor its detector-config schema, through these accessors, and only the runs that use them
 * pay for them. `test/unit/workflows/bundle-weight.test.ts` keeps zod out of every workflow module's imports.
 *
 * `require` is webpack's here (the workflow bundle), resolved per run like any import; types stay static.
 */
import type * as DetectorConfigModule from '../domain/detectors/config';
import type * as OrderLimitsModule from '../domain/orders/order-limits';
import type * as OrderMachineModule from '../domain/orders/order-machine';
import type * as OrderRequestModule from '../domain/orders/order-request';

/* eslint-disable @typescript-eslint/no-require-imports -- deferred loading is the point of this module */
export const orderMachine = () => require('../domain/orders/order-machine') as typeof OrderMachineModule;
export const orderRequests = () => require('../domain/orders/order-request') as typeof OrderRequestModule;
export const orderLimits = () => require('../domain/orders/order-limits') as typeof OrderLimitsModule;
export const detectorConfig = () => require('../domain/detectors/config') as typeof DetectorConfigModule;
/* eslint-enable @typescript-eslint/no-require-imports */
