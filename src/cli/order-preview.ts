import { type Command } from 'commander';
import { loadConfig } from '../config/load-config';
import { orderSettingsFromConfig } from '../config/order-settings';
import { assertWithinOrderLimits } from '../domain/orders/order-limits';
import { prepareLimitOrder, type PreparedLimitOrder } from '../domain/orders/order-request';
import { ValidationError } from '../domain/validation';
import { action, enumOption, printJson } from './io';

interface PreviewOptions {
  symbol?: string;
  side?: string;
  quantity?: string;
  referencePrice?: string;
  type?: string;
  offsetMode?: string;
  offset?: string;
  maxSlippagePct?: string;
  strategy?: string;
  json?: boolean;
}

/** Request fields as the user typed them, so an error names the flag rather than an internal field. */
const FLAG_OF_FIELD: Record<string, string> = {
  symbol: '--symbol',
  side: '--side',
  quantity: '--quantity',
  referencePrice: '--reference-price',
  type: '--type',
  offsetMode: '--offset-mode',
  offset: '--offset',
  maxSlippagePct: '--max-slippage-pct',
  strategy: '--strategy',
};

/** What `order preview` prints: the priced order, prices as decimal strings. */
export function previewView(order: PreparedLimitOrder) {
  return {
    symbol: order.symbol,
    side: order.side,
    quantity: order.quantity,
    referencePrice: order.referencePrice,
    limitPrice: order.limitPrice,
    offsetMode: order.offsetMode,
    offset: order.offset,
    maxSlippagePct: order.maxSlippagePct,
    ...(order.strategy !== undefined ? { strategy: order.strategy } : {}),
  };
}

export function previewLine(order: PreparedLimitOrder): string {
  const offset = order.offsetMode === 'bps' ? `${order.offset} bps` : `$${order.offset}`;
  const strategy = order.strategy !== undefined ? `, strategy ${order.strategy}` : '';
  return (
    `${order.side.toUpperCase()} ${order.quantity} ${order.symbol} LIMIT ${order.limitPrice} ` +
    `(reference ${order.referencePrice}, offset ${offset}, max slippage ${order.maxSlippagePct}%${strategy})`
  );
}

/** Adds `preview` to the `order` command group: prices a limit order from the loaded configuration, places nothing. */
export function registerOrderPreview(order: Command): void {
  order
    .command('preview')
    .description('show the limit price flowguard would use for an order (nothing is sent to a broker)')
    .requiredOption('--symbol <symbol>', 'equity ticker, e.g. TSLA or BRK.B')
    .requiredOption('--side <side>', 'buy or sell (either case)', enumOption)
    .requiredOption('--quantity <shares>', 'whole shares')
    .requiredOption('--reference-price <price>', 'reference price as a decimal, e.g. 250.30')
    .option('--type <type>', 'order type (only limit is supported)', enumOption, 'limit')
    .option('--offset-mode <mode>', 'bps or absolute (default from configuration)', enumOption)
    .option('--offset <value>', 'offset in offset-mode units (default from configuration)')
    .option('--max-slippage-pct <pct>', 'largest allowed distance from the reference, in percent')
    .option('--strategy <name>', 'a strategy from the configuration file (orders.strategies)')
    .option('--json', 'print one JSON object')
    .action(
      action(async (opts: PreviewOptions) => {
        const config = await loadConfig();
        const request = Object.fromEntries(
          Object.entries({
            symbol: opts.symbol,
            side: opts.side,
            quantity: opts.quantity,
            referencePrice: opts.referencePrice,
            type: opts.type,
            offsetMode: opts.offsetMode,
            offset: opts.offset,
            maxSlippagePct: opts.maxSlippagePct,
            strategy: opts.strategy,
          }).filter(([, v]) => v !== undefined),
        );
        let prepared: PreparedLimitOrder;
        try {
          prepared = prepareLimitOrder(request, orderSettingsFromConfig(config.orders).pricing);
          // The preview answers as `order place` would: an order over the size limits is refused here too.
          assertWithinOrderLimits(prepared, config.orders);
        } catch (err) {
          if (err instanceof ValidationError) {
            throw new ValidationError(
              err.issues.map((i) => ({ field: FLAG_OF_FIELD[i.field] ?? i.field, rule: i.rule })),
            );
          }
          throw err;
        }
        if (opts.json) printJson(previewView(prepared));
        else process.stdout.write(`${previewLine(prepared)}\n`);
      }),
    );
}
