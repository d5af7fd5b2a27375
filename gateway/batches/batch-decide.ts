/**
 * The decide and mask stages for each request of a Message Batch: every request is detected,
 * decided and masked exactly as a single `messages.create` is (the same functions, the same
 * policy input with `request.operation` "messages.create"), one decision per custom_id. The
 * batch goes upstream only when every request is allowed; approvals are for interactive calls,
 * so a request that needs one refuses the batch as a deny does.
 */
import { randomUUID } from 'node:crypto';
import { SluiceError } from '../errors.ts';
import type { BatchItem } from '../inspect/batch-request.ts';
import { detectEntities, type Detection } from '../inspect/detect-entities.ts';
import type { JsonBody } from '../inspect/json-body.ts';
import type { MaskPlan } from '../mask/mask-plan.ts';
import { maskStage } from '../mask/mask-stage.ts';
import type { PlaceholderNumbering } from '../mask/placeholder-numbering.ts';
import { decide, type Decided } from '../policy/decide.ts';
import type { MaskDirective } from '../policy/decision.ts';
import { buildPolicyInput, type ResourceFacts } from '../policy/input.ts';
import type { PolicyEngine } from '../policy/wasm-engine.ts';

/** One request's decision: its own decision id (the audit's and the batch_requests table's), detection and result. */
export interface InnerDecision {
  readonly item: BatchItem;
  readonly decisionId: string;
  readonly detection: Detection;
  readonly decided: Decided;
  /**
   * The objects it names that Sluice has no owner for, refused outright (`ownership.unknownObjects`
   * is `deny`), as `<type> <id>`; empty when there are none or the policy decides on them.
   */
  readonly unknown: readonly string[];
}

/** What every request of one batch is decided with: the batch call's caller, connection and bundle. */
export interface BatchDecideContext {
  readonly engine: PolicyEngine;
  readonly identity: Parameters<typeof buildPolicyInput>[0]['identity'];
  readonly connection: string;
  readonly session: Parameters<typeof buildPolicyInput>[0]['session'];
  readonly now: Date;
  /** The objects a request names by id (files, container, custom skills), each with its owner, as a single call's. */
  readonly referencesOf: (item: BatchItem) => readonly ResourceFacts[];
  /** Config `ownership.unknownObjects`: `deny` refuses a request naming an object nobody owns, before the policy. */
  readonly unknownObjects: 'deny' | 'allow';
}

const NO_BYTES = Buffer.alloc(0);

/** Requests handled between two turns of the event loop: a large batch must not stall every other call. */
const PER_TURN = 64;

/** Yields to the event loop after every PER_TURN items (a 100 000-request batch takes seconds of CPU). */
async function mapInTurns<T, R>(items: readonly T[], work: (item: T) => R): Promise<R[]> {
  const out: R[] = [];
  for (const [i, item] of items.entries()) {
    if (i > 0 && i % PER_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    out.push(work(item));
  }
  return out;
}

/** Detects and decides every request (all of them, so a refusal can name each refused one). */
export function decideBatch(items: readonly BatchItem[], ctx: BatchDecideContext): Promise<InnerDecision[]> {
  return mapInTurns(items, (item) => {
    // The params live inside the batch body: detection scans (and masking rewrites) them in place.
    const body: JsonBody = { raw: NO_BYTES, value: item.params, forward: NO_BYTES };
    const detection = detectEntities(ctx.engine.entities, { facts: item.facts, body });
    const references = ctx.referencesOf(item);
    const input = buildPolicyInput({
      identity: ctx.identity,
      connection: ctx.connection,
      facts: detection.facts,
      session: ctx.session,
      references,
      approval: null,
      now: ctx.now,
    });
    const unknown =
      ctx.unknownObjects === 'deny' ? references.filter((r) => r.owner === null).map((r) => `${r.type} ${r.id}`) : [];
    return { item, decisionId: randomUUID(), detection, decided: decide(ctx.engine, input), unknown };
  });
}

/**
 * The objects named in a request refused on ownership that are not the caller's: the policy's reasons say
 * why (another's, no owner), which the caller must not learn, so the refusal names only the objects.
 */
function notFoundObjects(inner: InnerDecision): string[] {
  const sub = inner.decided.input.identity.sub;
  const refs = (inner.decided.input.references ?? []).filter((r) => r.owner !== sub);
  return refs.length > 0 ? refs.map((r) => `${r.type} ${r.id}`) : ['an object it names'];
}

/** Why one request refuses the batch, or undefined when it is allowed. */
function refusalOf(inner: InnerDecision): string | undefined {
  const { decision } = inner.decided;
  const id = JSON.stringify(inner.item.customId);
  // As a single call's 404: the same words whether the object is another subject's or does not exist.
  if (inner.unknown.length > 0) return `request ${id}: not found: ${inner.unknown.join(', ')}`;
  switch (decision.kind) {
    case 'allow':
      return undefined;
    case 'deny':
      if (decision.notFound) return `request ${id}: not found: ${notFoundObjects(inner).join(', ')}`;
      return `request ${id}: denied by policy: ${decision.reasons.join('; ') || 'no reason given'}`;
    case 'approval_required':
      return (
        `request ${id}: requires a human approval (${decision.approval.reason}), ` +
        'and approvals are for interactive calls, not batches: send it as a single message'
      );
  }
}

/**
 * The refusal of the whole batch (403) when any request is denied or needs an approval, naming
 * each such custom_id and its reason; undefined when every request is allowed.
 */
export function batchRefusal(decisions: readonly InnerDecision[]): SluiceError | undefined {
  const reasons = decisions.map(refusalOf).filter((r): r is string => r !== undefined);
  if (reasons.length === 0) return undefined;
  const shown = reasons.slice(0, 20).join('; ');
  const more = reasons.length > 20 ? `; and ${reasons.length - 20} more` : '';
  return new SluiceError(
    'SLUICE_ERR_BATCH_REFUSED',
    `message batch refused: ${reasons.length} of ${decisions.length} requests not allowed: ${shown}${more}`,
  );
}

/** A request after masking: its mask plan (request masks in its ledger; the response directive for the results). */
export interface MaskedInner extends InnerDecision {
  readonly plan: MaskPlan;
  readonly directive: MaskDirective;
}

/**
 * Masks every request as its decision says (the params are rewritten in place in the batch
 * body). Only for a batch whose every request is allowed (batchRefusal returned undefined).
 */
export function maskBatch(
  decisions: readonly InnerDecision[],
  hashKey: Buffer,
  numbering: PlaceholderNumbering,
): Promise<MaskedInner[]> {
  return mapInTurns(decisions, (inner) => {
    const { decision } = inner.decided;
    if (decision.kind !== 'allow') throw new Error(`batch request ${inner.item.customId} was not allowed`);
    const body: JsonBody = { raw: NO_BYTES, value: inner.item.params, forward: NO_BYTES };
    const plan = maskStage(inner.detection, body, decision.mask, hashKey, numbering).mask;
    return { ...inner, plan, directive: decision.mask };
  });
}
