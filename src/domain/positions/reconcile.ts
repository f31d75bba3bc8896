/**
 * The positions watch's decision, pure: given what the broker holds and what is being watched, which monitors to
 * start, which to tell of a new quantity and which to end. The positions workflow carries out the plan; nothing
 * here does I/O or reads a clock, and nothing imports zod (this runs inside every positions workflow).
 */

/** One open position as the broker listed it (the neutral shape of src/brokers). */
export interface ListedPosition {
  readonly symbol: string;
  /** Signed decimal string: negative for a short. */
  readonly quantity: string;
  readonly averageEntryPrice: string | null;
}

export const WatchStatus = {
  /** A monitor was started (or found running) for this position. */
  Running: 'running',
  /** The monitor finished on its own (stopped by an operator, protective exit filled) while the position stayed. */
  Ended: 'ended',
} as const;
export type WatchStatus = (typeof WatchStatus)[keyof typeof WatchStatus];

/** A monitor the watch knows about, by symbol. */
export interface WatchedMonitor {
  readonly symbol: string;
  readonly positionId: string;
  readonly workflowId: string;
  /** Whole shares the monitor was last told of. */
  readonly quantity: number;
  readonly entryPrice: string | null;
  readonly status: WatchStatus;
  /** Why it ended (status ended). */
  readonly endedReason?: string;
}

export const SkipReason = {
  /** The detectors watch for selling pressure against a long; a short gains from it. */
  Short: 'short',
  /** Less than one whole share: nothing a whole-share protective SELL could sell. */
  Fractional: 'fractional',
  /** Not a US equity ticker flowguard trades (crypto pairs, options). */
  Unsupported: 'unsupported_symbol',
  /** Its monitor was stopped while the position stayed; a change of quantity starts it again. */
  MonitorEnded: 'monitor_ended',
} as const;
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];

export interface SkippedPosition {
  readonly symbol: string;
  readonly quantity: string;
  readonly reason: SkipReason;
  readonly note: string;
}

export type ReconcileAction =
  | {
      readonly kind: 'start';
      readonly symbol: string;
      readonly positionId: string;
      readonly workflowId: string;
      readonly quantity: number;
      readonly entryPrice: string | null;
    }
  /** The monitor runs with another quantity: tell it (positionChanged). */
  | {
      readonly kind: 'resize';
      readonly symbol: string;
      readonly workflowId: string;
      readonly quantity: number;
      readonly previous: number;
    }
  /** The position is gone (or turned short): positionChanged with quantity 0 ends the monitor as closed. */
  | { readonly kind: 'end'; readonly symbol: string; readonly workflowId: string; readonly previous: number }
  /** A monitor the watch remembers as ended, whose position is gone too: forget it. */
  | { readonly kind: 'forget'; readonly symbol: string };

export interface ReconcilePlan {
  readonly actions: readonly ReconcileAction[];
  readonly skipped: readonly SkippedPosition[];
}

export interface MonitorIdentity {
  readonly positionId: string;
  readonly workflowId: string;
}

/** US equity ticker (order-request.ts EQUITY_SYMBOL; restated here because that module loads zod). */
const EQUITY_SYMBOL = /^[A-Z]{1,5}(\.[A-Z])?$/;

/**
 * The monitor of a broker account's position in `symbol`: its workflow id is derived, never generated, so a
 * restarted or duplicated sync finds the same workflow id (and Temporal refuses a second run while one is open).
 * Position ids allow letters, digits, `_ . : -`; account labels are `[A-Za-z0-9_.-]` (FLOWGUARD_ACCOUNT), symbols
 * `[A-Z.]`.
 *
 * With `openedAtMs` (when the watch starts the monitor) the position id names that opening,
 * `<broker>:<account>:<SYMBOL>:<YYYYMMDDTHHMMSS.mmmZ>`: the monitor derives its protective SELL's client order id
 * from it (`exit-<position id>`), and a position sold and bought back must not reuse the first opening's — the desk
 * would answer with the old, filled order and the broker would refuse the id.
 */
export function monitorIdentity(broker: string, account: string, symbol: string, openedAtMs?: number): MonitorIdentity {
  const base = `${broker}:${account}:${symbol}`;
  return {
    positionId: openedAtMs === undefined ? base : `${base}:${openingStamp(openedAtMs)}`,
    workflowId: `position:${base}`,
  };
}

/** The opening part of a position id started by the watch (`:20261205T021534.123Z`). */
export const OPENING_SUFFIX = /:\d{8}T\d{6}\.\d{3}Z$/;

/** `20261205T021534.123Z`: ISO-8601 basic format, no `:` inside (it separates the position id's parts). */
export function openingStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '');
}

/** Whole shares of a signed decimal quantity, rounded toward zero (`"-12.5"` → -12). */
export function wholeShares(quantity: string): number {
  const match = /^(-?)(\d+)(\.\d+)?$/.exec(quantity.trim());
  if (!match) return Number.NaN;
  const whole = Number(match[2]);
  return match[1] === '-' && whole !== 0 ? -whole : whole;
}

/**
 * Plans one reconcile. Every listed position is either watched (start or resize) or skipped with a note; every
 * watched monitor whose position is no longer a watchable long is ended. A symbol listed twice counts once
 * (the last entry), so a broker page repeated on the wire never starts two monitors.
 */
export function planReconcile(input: {
  readonly broker: string;
  readonly account: string;
  readonly positions: readonly ListedPosition[];
  readonly monitors: readonly WatchedMonitor[];
  /** Workflow time of the sync: a monitor started names its opening with it (monitorIdentity). */
  readonly nowMs?: number;
}): ReconcilePlan {
  const actions: ReconcileAction[] = [];
  const skipped: SkippedPosition[] = [];
  const bySymbol = new Map<string, ListedPosition>();
  for (const p of input.positions) bySymbol.set(p.symbol, p);
  const watched = new Map(input.monitors.map((m) => [m.symbol, m]));
  const keep = new Set<string>();

  for (const p of [...bySymbol.values()].sort((a, b) => a.symbol.localeCompare(b.symbol))) {
    const shares = wholeShares(p.quantity);
    const skip = (reason: SkipReason, note: string) =>
      skipped.push({ symbol: p.symbol, quantity: p.quantity, reason, note });
    if (!EQUITY_SYMBOL.test(p.symbol)) {
      skip(SkipReason.Unsupported, `${p.symbol} is not a US equity ticker: not monitored`);
      continue;
    }
    if (Number.isNaN(shares)) {
      skip(SkipReason.Unsupported, `quantity ${p.quantity} is not a decimal number: not monitored`);
      continue;
    }
    if (p.quantity.trim().startsWith('-')) {
      skip(
        SkipReason.Short,
        `short ${p.quantity.replace(/^-/, '')} ${p.symbol}: not monitored — the detectors watch for selling pressure against a long, which a short gains from`,
      );
      continue;
    }
    if (shares < 1) {
      skip(SkipReason.Fractional, `${p.quantity} ${p.symbol} is less than one whole share: not monitored`);
      continue;
    }
    const m = watched.get(p.symbol);
    const id = monitorIdentity(input.broker, input.account, p.symbol, input.nowMs);
    if (!m) {
      actions.push({ kind: 'start', symbol: p.symbol, ...id, quantity: shares, entryPrice: p.averageEntryPrice });
    } else if (m.status === WatchStatus.Ended) {
      if (m.quantity === shares) {
        keep.add(p.symbol);
        skip(
          SkipReason.MonitorEnded,
          `its monitor ended (${m.endedReason ?? 'stopped'}) while ${shares} shares stayed: starts again when the quantity changes`,
        );
      } else {
        actions.push({ kind: 'start', symbol: p.symbol, ...id, quantity: shares, entryPrice: p.averageEntryPrice });
      }
    } else {
      keep.add(p.symbol);
      if (m.quantity !== shares) {
        actions.push({
          kind: 'resize',
          symbol: p.symbol,
          workflowId: m.workflowId,
          quantity: shares,
          previous: m.quantity,
        });
      }
    }
    keep.add(p.symbol);
  }

  for (const m of [...watched.values()].sort((a, b) => a.symbol.localeCompare(b.symbol))) {
    if (keep.has(m.symbol)) continue;
    if (m.status === WatchStatus.Ended) actions.push({ kind: 'forget', symbol: m.symbol });
    else actions.push({ kind: 'end', symbol: m.symbol, workflowId: m.workflowId, previous: m.quantity });
  }
  return { actions, skipped };
}
