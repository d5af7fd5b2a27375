import { createHash } from 'node:crypto';

/**
 * What the audit stores in place of content larger than its share of `audit.maxContentBytes`:
 * the first bytes of it, and the size and sha256 of the whole, so an investigator holding the
 * masked content can prove it is what crossed the gateway without the log holding all of it.
 * The bytes measured and hashed are the UTF-8 of a string value, or of the compact JSON
 * (JSON.stringify) of any other value. The content is the already-masked one: raw content is
 * never written, hashed or kept here.
 */
export interface TruncatedContent {
  readonly truncated: true;
  /** Size in bytes of the whole masked content. */
  readonly bytes: number;
  /** sha256 (hex) of those bytes. */
  readonly sha256: string;
  /** Its first bytes (at most this slot's share of the budget), cut at a character boundary. */
  readonly head: string;
}

/** One place in an event that holds content: `holder[key]`. */
export interface ContentSlot {
  readonly holder: Record<string, unknown>;
  readonly key: string;
}

/** The bytes the audit measures and hashes for one value (see TruncatedContent). */
export function contentText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null');
}

/** The longest prefix of `text` whose UTF-8 fits in `bytes`, never splitting a character. */
function utf8Head(text: string, bytes: number): string {
  const buf = Buffer.from(text.slice(0, bytes), 'utf8').subarray(0, bytes);
  // The decoder replaces a cut multi-byte character with U+FFFD: drop that tail instead.
  return buf.toString('utf8').replace(/\uFFFD+$/, '');
}

/** Characters hashed per update: the whole text is never converted to UTF-8 at once. */
const HASH_SLICE = 1 << 20;

/** sha256 of the UTF-8 of `text`, fed in slices that never split a surrogate pair. */
export function sha256Utf8(text: string): string {
  const hash = createHash('sha256');
  for (let i = 0; i < text.length;) {
    let end = Math.min(i + HASH_SLICE, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--; // keep the pair together
    hash.update(text.slice(i, end), 'utf8');
    i = end;
  }
  return hash.digest('hex');
}

/** A marker for `text` whose head holds at most `share` bytes. */
export function truncatedContent(text: string, share: number): TruncatedContent {
  const bytes = Buffer.byteLength(text, 'utf8');
  const sha256 = sha256Utf8(text);
  return { truncated: true, bytes, sha256, head: utf8Head(text, share) };
}

/**
 * Keeps the content of one event within `budget` bytes, in place. When the slots together fit,
 * nothing changes (the usual case). Otherwise the budget is shared out smallest first: a slot
 * that fits in an even share of what is left is kept whole, and each larger one is replaced by a
 * TruncatedContent whose head takes an even share. Small fields (model, max_tokens) thus stay as
 * they are, and only the large ones are cut. Returns the number of slots truncated.
 */
export function boundContent(slots: readonly ContentSlot[], budget: number): number {
  const measured = slots
    .filter((s) => s.holder[s.key] !== undefined)
    .map((s) => {
      const text = contentText(s.holder[s.key]);
      return { slot: s, text, bytes: Buffer.byteLength(text, 'utf8') };
    });
  if (measured.reduce((n, m) => n + m.bytes, 0) <= budget) return 0;
  measured.sort((a, b) => a.bytes - b.bytes);
  let left = budget;
  let cut = 0;
  measured.forEach((m, i) => {
    const share = Math.floor(left / (measured.length - i));
    if (m.bytes <= share) {
      left -= m.bytes;
      return;
    }
    const marker = truncatedContent(m.text, share);
    m.slot.holder[m.slot.key] = marker;
    left -= Buffer.byteLength(marker.head, 'utf8');
    cut++;
  });
  return cut;
}

/** The slots of a JSON object's top-level fields (none for anything else). */
export function fieldSlots(value: unknown): ContentSlot[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  const holder = value as Record<string, unknown>;
  return Object.keys(holder).map((key) => ({ holder, key }));
}
