import type { DetectorKit } from './detector-kit.ts';

/**
 * The prompt text for the policy input with every detected entity replaced by its type, so that
 * entity values never enter the policy input or the decision log (DESIGN.md).
 */
export function redactFindings(text: string, plan: { readonly kit: DetectorKit }): string {
  const matches = plan.kit.detector.scan(text);
  if (matches.length === 0) return text;
  let out = '';
  let at = 0;
  for (const m of matches) {
    out += `${text.slice(at, m.start)}[${m.type}]`;
    at = m.end;
  }
  return out + text.slice(at);
}
