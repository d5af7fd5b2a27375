/**
 * A recorded decision input rebuilt as the gateway would build it for another bundle: the one
 * path `sluice policy eval` and `sluice policy impact` replay through. A recorded input carries
 * what the recording bundle found (its entity findings, its text-rule matches); replayed as is, a
 * candidate bundle with a new custom entity or keyword rule would never see its own matches.
 */
import { redactFindings } from '../inspect/redact-findings.ts';
import type { PolicyInput } from '../policy/input.ts';
import type { PolicyEngine } from '../policy/wasm-engine.ts';

/**
 * The input for `engine`: the bundle's detectors run again on the recorded prompt text (entity
 * values the recording gateway found are already `[TYPE]` there, so they stay counted as recorded;
 * what only this bundle detects is found, counted and replaced the same way), and the recorded
 * text-rule matches dropped (the engine matches its own rules while evaluating).
 */
export function rebuildInput(engine: PolicyEngine, recorded: PolicyInput): PolicyInput {
  const { text_matches: _recordedMatches, ...request } = recorded.request;
  const found = engine.entities.detector.scan(request.text);
  if (found.length === 0) return { ...recorded, request };
  const findings: Record<string, number> = { ...request.findings };
  for (const m of found) findings[m.type] = (findings[m.type] ?? 0) + 1;
  const text = redactFindings(request.text, { kit: engine.entities });
  return { ...recorded, request: { ...request, findings, text } };
}
