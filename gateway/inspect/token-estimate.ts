/**
 * A cheap input-size estimate for policy thresholds, not a billing figure. Claude's tokenizer
 * is not published, so no library fits; Anthropic's guidance of roughly 3.5 characters per token
 * for English text, rounded up, errs on the side of a larger estimate (the safe side for limits).
 */
export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(text.length / 3.5);
}
