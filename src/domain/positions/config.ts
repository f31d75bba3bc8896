import { z } from 'zod';

/** The positions watch (`positions` section; FLOWGUARD_POSITIONS_*). */
export const PositionsConfigSchema = z
  .object({
    /** How often the watch reads the broker's positions; fills the desk sees wake it at once in between. */
    reconcileSeconds: z
      .number({ message: 'must be a number' })
      .int('must be an integer')
      .min(1, 'must be ≥ 1')
      .max(3600, 'must be ≤ 3600')
      .default(60),
    /** Monitors the watch starts place a protective SELL on the exit signal (else they alert only). */
    autoExit: z.boolean({ message: 'must be true or false' }).default(false),
    dataMode: z.enum(['poll', 'stream'], { message: 'must be poll or stream' }).default('poll'),
  })
  .strict();
export type PositionsConfig = z.output<typeof PositionsConfigSchema>;
