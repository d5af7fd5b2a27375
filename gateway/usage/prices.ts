/** USD per million tokens of each kind. */
export interface ModelPrice {
  readonly input: number;
  readonly output: number;
  readonly cacheWrite: number;
  readonly cacheRead: number;
}

/** Token counts of one call, as the API reports them in `usage`. */
export interface TokenUsage {
  readonly input: number;
  readonly output: number;
  readonly cacheWrite: number;
  readonly cacheRead: number;
}

/**
 * Anthropic's published list prices (USD per million tokens; cache writes at 1.25× input for the
 * 5-minute cache, reads at 0.1×), matched by model-id prefix, first match wins. Override or
 * extend with `pricing.models`; a model matching none is priced as the most expensive one, so an
 * unknown model can never make a cost budget look cheaper than it is.
 */
export const DEFAULT_PRICES: ReadonlyArray<readonly [string, ModelPrice]> = [
  ['claude-opus-4-5', { input: 5, output: 25, cacheWrite: 6.25, cacheRead: 0.5 }],
  ['claude-opus-4', { input: 15, output: 75, cacheWrite: 18.75, cacheRead: 1.5 }],
  ['claude-sonnet-4', { input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 }],
  ['claude-3-7-sonnet', { input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 }],
  ['claude-haiku-4-5', { input: 1, output: 5, cacheWrite: 1.25, cacheRead: 0.1 }],
  ['claude-3-5-haiku', { input: 0.8, output: 4, cacheWrite: 1, cacheRead: 0.08 }],
  ['claude-3-haiku', { input: 0.25, output: 1.25, cacheWrite: 0.3, cacheRead: 0.03 }],
];

/** A price table: configured entries first, then the defaults. */
export class PriceTable {
  readonly #entries: ReadonlyArray<readonly [string, ModelPrice]>;
  readonly #ceiling: ModelPrice;

  constructor(configured: Readonly<Record<string, ModelPrice>> = {}) {
    this.#entries = [...Object.entries(configured), ...DEFAULT_PRICES];
    const max = (k: keyof ModelPrice): number => Math.max(...this.#entries.map(([, p]) => p[k]));
    this.#ceiling = {
      input: max('input'),
      output: max('output'),
      cacheWrite: max('cacheWrite'),
      cacheRead: max('cacheRead'),
    };
  }

  /** The price entry's prefix `model` matched, or `other`: a bounded label for metrics, never the caller's string. */
  familyOf(model: string | undefined): string {
    return this.#entries.find(([prefix]) => model?.startsWith(prefix))?.[0] ?? 'other';
  }

  priceOf(model: string | undefined): ModelPrice {
    return this.#entries.find(([prefix]) => model?.startsWith(prefix))?.[1] ?? this.#ceiling;
  }

  /** The cost of `usage` on `model` in micro-USD (integers add up exactly in the counters). */
  costMicroUsd(model: string | undefined, usage: TokenUsage): number {
    const p = this.priceOf(model);
    // price per million tokens × tokens = micro-USD.
    return Math.ceil(
      usage.input * p.input + usage.output * p.output + usage.cacheWrite * p.cacheWrite + usage.cacheRead * p.cacheRead,
    );
  }
}
