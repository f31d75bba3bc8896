/**
 * A small in-process metrics registry that renders the Prometheus text exposition format 0.0.4.
 *
 * prom-client is not a dependency; this covers what flowguard needs (counters, gauges and histograms with
 * labels, plus collectors read at scrape time) and nothing more. Label sets are validated when used, so a
 * typo in a label name fails the test that exercises it instead of producing a silently split series.
 */

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export type Labels<L extends string> = { readonly [K in L]: string | number };

type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricOptions<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly L[];
}

export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** Upper bounds, strictly increasing; +Inf is implied. */
  readonly buckets: readonly number[];
}

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  samples(): string[];
}

/** `\` and newline escaped, as the format requires for HELP text. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** `\`, `"` and newline escaped, as the format requires inside label values. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Go's ParseFloat spellings for the special values; finite numbers in JavaScript's shortest round-trip form. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function checkLabelNames(metric: string, names: readonly string[], reserved: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`${metric}: invalid label name '${name}'`);
    if (reserved.includes(name)) throw new Error(`${metric}: label name '${name}' is reserved`);
    if (seen.has(name)) throw new Error(`${metric}: duplicate label name '${name}'`);
    seen.add(name);
  }
}

/** A series key: label values in declared order (JSON keeps it unambiguous whatever the values contain). */
function seriesKey(metric: string, labelNames: readonly string[], labels: Record<string, unknown>) {
  const given = labels;
  const extra = Object.keys(given).filter((k) => !labelNames.includes(k));
  if (extra.length > 0) throw new Error(`${metric}: unknown label(s) ${extra.join(', ')}`);
  const values = labelNames.map((name) => {
    const v = given[name];
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    throw new Error(`${metric}: label '${name}' is missing (or not a string or number)`);
  });
  return { key: JSON.stringify(values), values };
}

function renderLabels(names: readonly string[], values: readonly string[], extra?: readonly [string, string]) {
  const pairs = names.map((n, i) => `${n}="${escapeLabelValue(values[i] ?? '')}"`);
  if (extra) pairs.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

abstract class LabelledMetric<L extends string, S> implements Metric {
  abstract readonly type: MetricType;
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  protected readonly series = new Map<string, { readonly values: readonly string[]; state: S }>();

  constructor(options: MetricOptions<L>, reservedLabels: readonly string[] = []) {
    if (!METRIC_NAME.test(options.name)) throw new Error(`invalid metric name '${options.name}'`);
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames ?? [];
    checkLabelNames(options.name, this.labelNames, reservedLabels);
  }

  protected abstract initial(): S;

  protected stateFor(labels: Labels<L>): S {
    const { key, values } = seriesKey(this.name, this.labelNames, labels);
    let entry = this.series.get(key);
    if (!entry) {
      entry = { values, state: this.initial() };
      this.series.set(key, entry);
    }
    return entry.state;
  }

  abstract samples(): string[];

  /** Forgets every series (tests). */
  reset(): void {
    this.series.clear();
  }
}

function requireFinite(metric: string, value: number): void {
  if (!Number.isFinite(value)) throw new Error(`${metric}: value must be a finite number, got ${value}`);
}

export class Counter<L extends string = never> extends LabelledMetric<L, { value: number }> {
  readonly type = 'counter';

  protected initial() {
    return { value: 0 };
  }

  /** Adds `value` (default 1); counters only go up. */
  inc(labels: Labels<L>, value = 1): void {
    requireFinite(this.name, value);
    if (value < 0) throw new Error(`${this.name}: a counter cannot decrease (inc by ${value})`);
    this.stateFor(labels).value += value;
  }

  get(labels: Labels<L>): number {
    const { key } = seriesKey(this.name, this.labelNames, labels);
    return this.series.get(key)?.state.value ?? 0;
  }

  samples(): string[] {
    if (this.labelNames.length === 0 && this.series.size === 0) return [`${this.name} 0`];
    return [...this.series.values()].map(
      (s) => `${this.name}${renderLabels(this.labelNames, s.values)} ${formatValue(s.state.value)}`,
    );
  }
}

export class Gauge<L extends string = never> extends LabelledMetric<L, { value: number }> {
  readonly type = 'gauge';

  protected initial() {
    return { value: 0 };
  }

  set(labels: Labels<L>, value: number): void {
    if (typeof value !== 'number') throw new Error(`${this.name}: value must be a number`);
    this.stateFor(labels).value = value;
  }

  inc(labels: Labels<L>, value = 1): void {
    requireFinite(this.name, value);
    this.stateFor(labels).value += value;
  }

  dec(labels: Labels<L>, value = 1): void {
    requireFinite(this.name, value);
    this.stateFor(labels).value -= value;
  }

  get(labels: Labels<L>): number {
    const { key } = seriesKey(this.name, this.labelNames, labels);
    return this.series.get(key)?.state.value ?? 0;
  }

  samples(): string[] {
    if (this.labelNames.length === 0 && this.series.size === 0) return [`${this.name} 0`];
    return [...this.series.values()].map(
      (s) => `${this.name}${renderLabels(this.labelNames, s.values)} ${formatValue(s.state.value)}`,
    );
  }
}

interface HistogramState {
  /** Per-bucket (non-cumulative) counts; rendered cumulatively. */
  readonly counts: number[];
  sum: number;
  count: number;
}

export class Histogram<L extends string = never> extends LabelledMetric<L, HistogramState> {
  readonly type = 'histogram';
  readonly buckets: readonly number[];

  constructor(options: HistogramOptions<L>) {
    super(options, ['le']);
    const buckets = [...options.buckets];
    if (buckets.length === 0) throw new Error(`${options.name}: needs at least one bucket`);
    for (let i = 0; i < buckets.length; i += 1) {
      requireFinite(options.name, buckets[i]!);
      if (i > 0 && buckets[i]! <= buckets[i - 1]!) throw new Error(`${options.name}: buckets must increase`);
    }
    this.buckets = buckets;
  }

  protected initial(): HistogramState {
    return { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
  }

  observe(labels: Labels<L>, value: number): void {
    requireFinite(this.name, value);
    const state = this.stateFor(labels);
    const index = this.buckets.findIndex((upper) => value <= upper);
    if (index >= 0) state.counts[index]! += 1;
    state.sum += value;
    state.count += 1;
  }

  /** Count and sum of one series (tests, health output). */
  get(labels: Labels<L>): { readonly count: number; readonly sum: number } {
    const { key } = seriesKey(this.name, this.labelNames, labels);
    const state = this.series.get(key)?.state;
    return { count: state?.count ?? 0, sum: state?.sum ?? 0 };
  }

  samples(): string[] {
    const lines: string[] = [];
    for (const { values, state } of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((upper, i) => {
        cumulative += state.counts[i]!;
        lines.push(
          `${this.name}_bucket${renderLabels(this.labelNames, values, ['le', formatValue(upper)])} ${cumulative}`,
        );
      });
      lines.push(`${this.name}_bucket${renderLabels(this.labelNames, values, ['le', '+Inf'])} ${state.count}`);
      lines.push(`${this.name}_sum${renderLabels(this.labelNames, values)} ${formatValue(state.sum)}`);
      lines.push(`${this.name}_count${renderLabels(this.labelNames, values)} ${state.count}`);
    }
    return lines;
  }
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();
  private readonly collectors: (() => void)[] = [];
  private readonly sampleNames = new Set<string>();

  counter<L extends string = never>(options: MetricOptions<L>): Counter<L> {
    return this.register(new Counter<L>(options));
  }

  gauge<L extends string = never>(options: MetricOptions<L>): Gauge<L> {
    return this.register(new Gauge<L>(options));
  }

  histogram<L extends string = never>(options: HistogramOptions<L>): Histogram<L> {
    return this.register(new Histogram<L>(options));
  }

  /** Runs before every render: for values read from elsewhere at scrape time (e.g. a rate limiter's stats). */
  addCollector(collect: () => void): void {
    this.collectors.push(collect);
  }

  /** The whole registry in the text exposition format, one HELP and TYPE line per family. */
  render(): string {
    for (const collect of this.collectors) collect();
    const blocks: string[] = [];
    for (const metric of this.metrics.values()) {
      blocks.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`);
      blocks.push(`# TYPE ${metric.name} ${metric.type}`);
      blocks.push(...metric.samples());
    }
    return blocks.length === 0 ? '' : `${blocks.join('\n')}\n`;
  }

  private register<M extends Metric>(metric: M): M {
    // A histogram also owns name_bucket, name_sum and name_count: no other family may use those names.
    const names =
      metric.type === 'histogram' ? ['', '_bucket', '_sum', '_count'].map((s) => metric.name + s) : [metric.name];
    const clash = names.find((n) => this.sampleNames.has(n));
    if (clash !== undefined) throw new Error(`metric '${metric.name}' is already registered (clashes with ${clash})`);
    names.forEach((n) => this.sampleNames.add(n));
    this.metrics.set(metric.name, metric);
    return metric;
  }
}
