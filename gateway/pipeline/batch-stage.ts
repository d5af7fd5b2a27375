/**
 * The Message Batch parts of the pipeline: each request of a new batch decided and masked as a
 * messages.create (gateway/batches), the batch recorded before its creator hears of it (owner,
 * and each request's decision and response masking), `results_url` pointed back at Sluice, and
 * the decisions a batch's results are masked by.
 */
import type { FastifyRequest } from 'fastify';
import { batchRefusal, decideBatch, maskBatch } from '../batches/batch-decide.ts';
import { callerBase, rewriteBatchObjects } from '../batches/batch-objects.ts';
import type { BatchDeps, BatchRequestRecord } from '../batches/batch-store.ts';
import { SluiceError } from '../errors.ts';
import type { Detection } from '../inspect/detect-entities.ts';
import type { BatchItem } from '../inspect/batch-request.ts';
import type { Inspected } from '../inspect/inspect-request.ts';
import { objectReferences } from '../inspect/object-references.ts';
import { MaskPlan } from '../mask/mask-plan.ts';
import type { ForwardPlan } from '../mask/mask-stage.ts';
import type { ResourceFacts } from '../policy/input.ts';
import type { PolicyEngine } from '../policy/wasm-engine.ts';
import { stateUnavailable } from '../store/state-db.ts';
import { addBatchUsage, checkBatchBudgets, type BatchUse } from '../usage/budget-stage.ts';
import type { Exchange } from './exchange.ts';
import { lookUpReferences } from './ownership-stage.ts';
import type { ProxyDeps } from './proxy-deps.ts';

const NO_MASK = { request: [], response: [], style: 'placeholder', restore: false } as const;

/**
 * The forward plan of batches.create: every request decided (one decision each, in the audit
 * with its custom_id), the batch refused whole if any is not allowed, then each masked in place.
 * What goes upstream is the batch body with the masked params: what each decision saw.
 */
export async function batchForwardPlan(
  ex: Exchange,
  deps: ProxyDeps,
  engine: PolicyEngine,
  inspected: Inspected,
  detection: Detection,
): Promise<ForwardPlan> {
  const caller = ex.get('caller')!;
  const connection = ex.get('connection')!.name;
  const items = inspected.batch ?? [];
  const referencesOf = await batchReferences(deps, items, connection);
  const decisions = ex.set(
    'batch',
    await decideBatch(items, {
      engine,
      identity: caller.identity,
      connection,
      session: caller.session,
      now: new Date(),
      referencesOf,
      unknownObjects: deps.unknownObjects,
    }),
  );
  const refusal = batchRefusal(decisions);
  if (refusal) throw refusal;
  // Every request is allowed: the batch must also fit what is left of each budget its requests carry.
  await stored(() =>
    checkBatchBudgets(
      deps.usage,
      deps.prices,
      decisions.map((inner) => ({
        budgets: inner.decided.decision.kind === 'allow' ? inner.decided.decision.limits.budgets : [],
        call: inner.item.facts,
      })),
    ),
  );
  const numbering = deps.placeholderNumbering.for(caller.session?.id);
  const masked = ex.set('batchMasked', await maskBatch(decisions, deps.maskHashKey, numbering));
  // The batch call's own plan masks nothing (a batch object holds no prompt); its ledger lists every request's masks.
  const plan = new MaskPlan(detection.kit, NO_MASK, deps.maskHashKey);
  for (const inner of masked) {
    for (const e of inner.plan.ledger.entries()) {
      const path = e.path.replace(/^request\./, `request.requests[${inner.item.index}].params.`);
      plan.ledger.add(path, new Map([[e.type, e.count]]));
    }
  }
  const body = inspected.body!;
  const changed = masked.some((inner) => inner.plan.ledger.applied);
  return {
    bytes: changed ? Buffer.from(JSON.stringify(body.value), 'utf8') : body.forward,
    body: body.value,
    mask: plan,
  };
}

/**
 * The objects each request names by id, with their owners: every request's looked up in one read per type, so a
 * 100 000-request batch is not 100 000 reads. Unknown ids come back with no owner (decideBatch refuses them).
 */
async function batchReferences(
  deps: ProxyDeps,
  items: readonly BatchItem[],
  connection: string,
): Promise<(item: BatchItem) => readonly ResourceFacts[]> {
  const named = new Map(items.map((item) => [item.index, objectReferences(item.params)]));
  const all = await lookUpReferences(deps.ownership, [...named.values()].flat(), connection, 'allow');
  const facts = new Map(all.map((f) => [`${f.type}\u0000${f.id}`, f]));
  return (item) => (named.get(item.index) ?? []).map((r) => facts.get(`${r.type}\u0000${r.id}`)!);
}

async function stored<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw stateUnavailable(err);
  }
}

/**
 * What runs on a successful Batches answer before the caller gets it: a created batch's requests
 * are recorded (each custom_id's decision and response masking), a deleted batch's forgotten,
 * and every batch object's `results_url` rebuilt on the origin and prefix the caller used.
 */
export function batchAnswer(
  req: FastifyRequest,
  ex: Exchange,
  deps: BatchDeps,
): ((body: unknown) => Promise<unknown>) | undefined {
  const op = ex.operation;
  if (op.resource?.type !== 'batch') return undefined;
  const connection = ex.get('connection')!.name;
  const base = callerBase(req.protocol, req.host, (req.params as { connection?: string }).connection);
  return async (body) => {
    if (op.operation === 'batches.create') await recordBatch(body, ex, connection, deps);
    if (op.operation === 'batches.delete') {
      const id = (req.params as { batch_id?: string }).batch_id ?? '';
      await stored(() => deps.batchRequests.forget(connection, id));
    }
    return rewriteBatchObjects(body, base);
  };
}

/**
 * Records a created batch's requests: each custom_id's decision and response masking. (Its owner
 * is recorded by the ownership stage's creation hook, which runs first.)
 */
async function recordBatch(body: unknown, ex: Exchange, connection: string, deps: BatchDeps): Promise<void> {
  const id = (body as { id?: unknown } | null)?.id;
  if (typeof id !== 'string' || id === '') {
    throw new SluiceError('SLUICE_ERR_UPSTREAM_BAD_RESPONSE', `upstream "${connection}" created a batch without an id`);
  }
  const requests: BatchRequestRecord[] = (ex.get('batchMasked') ?? []).map((inner) => {
    const { decision } = inner.decided;
    return {
      customId: inner.item.customId,
      decisionId: inner.decisionId,
      responseMask: { response: inner.directive.response, style: inner.directive.style },
      // Every request of a batch that went upstream was allowed; its budgets settle its result's usage.
      budgets: decision.kind === 'allow' ? decision.limits.budgets : [],
      model: inner.item.facts.model,
    };
  });
  await stored(() => deps.batchRequests.record(connection, id, requests));
}

/** The requests of the batch whose results are asked for; refused (404) for a batch Sluice did not create. */
export async function resultsRequests(
  ex: Exchange,
  deps: BatchDeps,
  batchId: string,
): Promise<ReadonlyMap<string, BatchRequestRecord>> {
  const connection = ex.get('connection')!.name;
  const requests = await stored(() => deps.batchRequests.requests(connection, batchId));
  if (requests.size === 0) {
    throw new SluiceError(
      'SLUICE_ERR_BATCH_UNKNOWN',
      `message batch ${JSON.stringify(batchId.slice(0, 128))} was not created through this gateway on "${connection}"`,
    );
  }
  return requests;
}

/**
 * Settles the usage of the batch results just relayed against each request's budgets: only the
 * requests no earlier read settled (claimed in the state database, so two reads on two instances
 * count a result once). Results are settled when read, not reserved when the batch was created:
 * the use happened upstream already, so it is added whatever the limit (see docs/budgets.md).
 */
export async function settleBatchResults(
  deps: ProxyDeps,
  connection: string,
  batchId: string,
  used: ReadonlyMap<string, BatchUse>,
): Promise<void> {
  if (used.size === 0) return;
  const claimed = await deps.batchRequests.claimSettlement(connection, batchId, [...used.keys()]);
  const uses = [...used].filter(([customId]) => claimed.has(customId)).map(([, use]) => use);
  await addBatchUsage(deps.usage, deps.prices, uses);
}
