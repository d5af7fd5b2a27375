/**
 * What a masked value becomes, per the policy's style: a typed placeholder (`[EMAIL_1]`, the
 * same number for the same value, so the model can still reason about "the same email"), a
 * partial form (`[CREDIT_CARD ****1111]`), or a keyed hash (`[EMAIL #3f9a2c1d0e4b]`, the same
 * value gives the same hash while the key lasts). Placeholder numbers come from the JIT
 * session's numbering, so they hold across the session's calls; the clear values a replacer
 * keeps for restoring live only as long as its exchange.
 */
import { createHmac } from 'node:crypto';
import { PlaceholderNumbering } from './placeholder-numbering.ts';

/** The masking styles of the policy contract. */
export type MaskStyle = 'placeholder' | 'partial' | 'hash';

const PLACEHOLDER = /\[([A-Z][A-Z0-9_]{0,39})_(\d{1,6})\]/g;
/** A placeholder that may still be growing at the end of a streamed text. */
const PLACEHOLDER_TAIL = /\[[A-Z0-9_]{0,47}$/;

const lastDigits = (value: string, n: number): string => value.replace(/[^0-9A-Za-z]/g, '').slice(-n);

/** Turns values into their masked form and, for placeholders, back again. */
export class MaskReplacer {
  private readonly byValue = new Map<string, string>();
  private readonly byPlaceholder = new Map<string, string>();
  /** Placeholders put into the prompt: the only ones restore may turn back (never one minted for the answer). */
  private readonly restorable = new Map<string, string>();

  constructor(
    readonly style: MaskStyle,
    private readonly hashKey: Buffer,
    private readonly numbering: PlaceholderNumbering = new PlaceholderNumbering(hashKey),
  ) {}

  /** The masked form of `value`, an entity of `type`. Never contains quotes or backslashes (JSON-safe). */
  replace(type: string, value: string): string {
    switch (this.style) {
      case 'hash': {
        const digest = createHmac('sha256', this.hashKey).update(`${type}\0${value}`).digest('hex');
        return `[${type} #${digest.slice(0, 12)}]`;
      }
      case 'partial': {
        const partial = this.partial(type, value);
        if (partial) return partial;
        return this.placeholder(type, value);
      }
      case 'placeholder':
        return this.placeholder(type, value);
    }
  }

  /** Replaces placeholders this replacer issued with the caller's own values; others stay as they are. */
  restore(text: string, jsonText = false): string {
    if (this.restorable.size === 0 || !text.includes('[')) return text;
    return text.replace(PLACEHOLDER, (ph: string) => {
      const value = this.restorable.get(ph);
      if (value === undefined) return ph;
      return jsonText ? JSON.stringify(value).slice(1, -1) : value;
    });
  }

  /** Marks every placeholder issued so far (the request's) as restorable. */
  sealRequest(): void {
    for (const [ph, value] of this.byPlaceholder) this.restorable.set(ph, value);
  }

  /** Characters at the end of `text` that could be the start of a placeholder (held back on streams when restoring). */
  static restoreHold(text: string): number {
    const m = PLACEHOLDER_TAIL.exec(text.length > 64 ? text.slice(-64) : text);
    return m ? m[0].length : 0;
  }

  private placeholder(type: string, value: string): string {
    const key = `${type}\0${value}`;
    const known = this.byValue.get(key);
    if (known) return known;
    const ph = `[${type}_${this.numbering.numberFor(type, value)}]`;
    this.byValue.set(key, ph);
    this.byPlaceholder.set(ph, value);
    return ph;
  }

  /** Partial forms reveal only what a human needs to tell values apart; secrets have none. */
  private partial(type: string, value: string): string | undefined {
    switch (type) {
      case 'CREDIT_CARD':
      case 'IBAN':
      case 'PHONE':
      case 'US_SSN':
        return `[${type} ****${lastDigits(value, 4)}]`;
      case 'EMAIL': {
        const at = value.lastIndexOf('@');
        return `[EMAIL ${value.slice(0, 1)}***${value.slice(at).replace(/[^A-Za-z0-9.@-]/g, '')}]`;
      }
      default:
        return undefined;
    }
  }
}
