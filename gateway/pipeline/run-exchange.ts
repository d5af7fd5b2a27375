import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  awaitApproval,
  bodySha256,
  presentedApproval,
  useApproval,
  type HeldCall,
} from '../approvals/approval-stage.ts';
import { SluiceError } from '../errors.ts';
import { detectEntities } from '../inspect/detect-entities.ts';
import { inspectRequest } from '../inspect/inspect-request.ts';
import { maskStage } from '../mask/mask-stage.ts';
import { decide, type Decided } from '../policy/decide.ts';
import { buildPolicyInput, type ResourceFacts } from '../policy/input.ts';
import { relayJson, type RelayContext } from '../relay/relay-json.ts';
import { relayStream } from '../relay/relay-stream.ts';
import { relayBatchResults } from '../batches/batch-results.ts';
import { CallerGone, forward } from '../upstream/forward.ts';
import type { Exchange } from './exchange.ts';
import { batchAnswer, batchForwardPlan, resultsRequests } from './batch-stage.ts';
import { recordDecision } from './exchange-record.ts';
import { filterListing, lookUpResource, objectNotFound, ownedTypeOf, settleOwnership } from './ownership-stage.ts';
import type { ProxyDeps } from './proxy-deps.ts';

function isEventStream(headers: Record<string, string | string[] | undefined>): boolean {
  return String(headers['content-type'] ?? '').startsWith('text/event-stream');
}

type Allow = Extract<Decided['decision'], { kind: 'allow' }>;

/**
 * The allow that lets the call go on; the policy's refusal, as the caller sees it, otherwise. A deny
 * with `not_found` (a refusal on ownership) is the 404 a missing object gets, its reasons kept for the audit only.
 */
function allowed(decided: Decided, approvalId: string | undefined, resource: ResourceFacts | null): Allow {
  const { decision } = decided;
  switch (decision.kind) {
    case 'allow':
      return decision;
    case 'deny': {
      if (decision.notFound) {
        throw resource ? objectNotFound(resource.type, resource.id) : new SluiceError('SLUICE_ERR_OBJECT_NOT_FOUND');
      }
      const why = decision.reasons.length > 0 ? `denied by policy: ${decision.reasons.join('; ')}` : undefined;
      throw new SluiceError('SLUICE_ERR_POLICY_DENIED', why);
    }
    case 'approval_required':
      // Only reachable when the policy ignores an approved approval: refuse rather than loop.
      throw new SluiceError(
        'SLUICE_ERR_APPROVAL_REQUIRED',
        `approval ${approvalId} was given, yet the policy still requires one: ${decision.approval.reason}`,
      );
  }
}

/**
 * The stages of one authenticated call, top to bottom: inspect → detect → ownership → decide → (hold →
 * decide again) → mask → write-ahead audit → forward → relay. Each stage is a function of earlier
 * outputs; the exchange stores each output once and the audit is built from them. A refusal at
 * any stage throws a SluiceError; the route's error handler answers and audits.
 * (authenticate, which resolves the connection, the caller and the session, ran in onRequest.)
 */
export async function runExchange(
  req: FastifyRequest,
  reply: FastifyReply,
  ex: Exchange,
  deps: ProxyDeps,
): Promise<void> {
  const { trace } = ex;
  const connection = ex.get('connection')!;
  const caller = ex.get('caller')!;
  const params = req.params as Record<string, string>;

  const parts = { headers: req.headers, params, raw: req.body as Buffer | undefined };
  const inspected = ex.set(
    'inspected',
    await trace.stage('inspect', () => inspectRequest(ex.operation, parts, deps.unknownBlocks ?? 'refuse')),
  );

  const engine = deps.policies.current();
  if (!engine) throw new SluiceError('SLUICE_ERR_POLICY_NOT_READY');
  ex.set('bundleRevision', engine.revision);
  const detection = ex.set('detection', await trace.stage('detect', () => detectEntities(engine.entities, inspected)));

  const resource = ex.set(
    'resource',
    await trace.stage('ownership', () =>
      lookUpResource(deps.ownership, ex.operation, connection.name, params, deps.unknownObjects),
    ),
  );

  // Hashed only when an approval is presented or required: most calls never need it.
  const held: HeldCall = {
    subject: caller.identity.sub,
    groups: caller.identity.groups,
    connection: connection.name,
    operation: ex.operation.operation,
    decisionId: ex.decisionId,
    facts: detection.facts,
    bodyHash: () => bodySha256(inspected.body?.raw),
    onApproval: (approval) => ex.noteApproval(approval),
  };
  const presented = await presentedApproval(deps.approvals, req.headers, held);
  const input = ex.set(
    'policyInput',
    buildPolicyInput({
      identity: caller.identity,
      connection: connection.name,
      facts: detection.facts,
      session: caller.session,
      resource,
      approval: ex.approval,
      now: new Date(),
    }),
  );
  const decided = ex.set('decided', await trace.stage('policy', () => decide(engine, input)));

  let approval = presented;
  let final = decided;
  if (decided.decision.kind === 'approval_required') {
    // Hold for a human, then decide again with the approval in the input, so an approved call
    // gets the policy's full allow (masks, limits) and still honours a deny.
    const required = decided.decision;
    approval = await trace.stage('approval_hold', () =>
      awaitApproval(deps.approvals, reply.raw, held, required, presented),
    );
    const again = ex.set('policyInputAfterApproval', {
      ...decided.input,
      approval: ex.approval,
      now: new Date().toISOString(),
    });
    final = ex.set('redecided', await trace.stage('policy_after_approval', () => decide(engine, again)));
  }
  const allow = allowed(final, approval?.id, resource);

  const plan = ex.set(
    'forwardPlan',
    inspected.batch
      ? // A batch: each request decided and masked as a messages.create, the batch refused whole if one is not allowed.
        await trace.stage('batch', () => batchForwardPlan(ex, deps, engine, inspected, detection))
      : await trace.stage('mask', () =>
          maskStage(
            detection,
            inspected.body,
            allow.mask,
            deps.maskHashKey,
            deps.placeholderNumbering.for(caller.session?.id),
          ),
        ),
  );
  // A batch's results are masked by the decisions its requests got: none recorded, nothing to relay.
  const batchRequests =
    ex.operation.relay === 'batch_results' ? await resultsRequests(ex, deps, params.batch_id ?? '') : undefined;
  if (caller.session) await deps.sessions.setIdleTimeout(caller.session.id, allow.session.idleTimeoutSeconds);
  await useApproval(deps.approvals, approval, held);

  const callerGone = new CallerGone();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) callerGone.abort(new Error('caller disconnected'));
  });
  // Write-ahead: the decision is in the audit file before anything goes upstream, so a crash
  // mid-call leaves it (verify reports it without its exchange record, as incomplete).
  recordDecision(deps.audit, ex, deps.auditMaxContentBytes);
  await trace.stage('audit_ahead', () =>
    deps.audit.written().catch((err: unknown) => {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new SluiceError(
        'SLUICE_ERR_AUDIT_UNAVAILABLE',
        `audit trail unavailable, request refused (fail closed): the decision could not be written (${reason})`,
      );
    }),
  );
  // Sluice's own latency before the upstream: everything from the request's arrival to here.
  trace.mark('forwarded');
  const upstream = await trace.stage('upstream_headers', () =>
    forward({
      connection,
      method: ex.operation.method,
      path: ex.operation.upstreamPath({ params, query: req.query as Record<string, unknown> }),
      callerHeaders: req.headers,
      body: plan.bytes,
      signal: callerGone,
    }),
  );

  const relay: RelayContext = {
    connection: connection.name,
    mask: plan.mask,
    mark: (stage) => trace.mark(stage),
    responseBytes: deps.responseBytes,
    rewrite: answerRewrite(listingFilter(ex, deps, connection.name, caller.identity.sub), batchAnswer(req, ex, deps)),
  };
  if (batchRequests && upstream.statusCode === 200) {
    reply.hijack();
    const results = {
      connection: connection.name,
      requests: batchRequests,
      kit: detection.kit,
      hashKey: deps.maskHashKey,
      numbering: deps.placeholderNumbering.for(caller.session?.id),
      ledger: plan.mask.ledger,
      maxLineBytes: deps.responseBytes,
      mark: relay.mark,
    };
    ex.set('relayed', await relayBatchResults(upstream, reply.raw, results));
    return;
  }
  const streamed =
    ex.operation.relay === 'message' &&
    inspected.facts.stream &&
    upstream.statusCode < 400 &&
    isEventStream(upstream.headers);
  if (streamed) reply.hijack();
  // Before the answer goes out: a caller told "deleted" can rely on the record being gone too.
  await settleOwnership(deps.ownership, ex.operation, connection.name, resource, upstream.statusCode);
  ex.set('relayed', streamed ? await relayStream(upstream, reply.raw, relay) : await relayJson(upstream, reply, relay));
}

/** For a listing of owned objects: the filter that keeps the caller's own; undefined for every other call. */
function listingFilter(
  ex: Exchange,
  deps: ProxyDeps,
  connection: string,
  subject: string,
): ((body: unknown) => Promise<unknown>) | undefined {
  const type = ownedTypeOf(ex.operation);
  if (type === undefined || ex.operation.resource?.action !== 'list') return undefined;
  return (body) => filterListing(deps.ownership, type, connection, subject, body);
}

/** The listing filter, then the batch step (records a new batch, points results_url at Sluice): whichever apply. */
function answerRewrite(
  ...steps: ReadonlyArray<((body: unknown) => Promise<unknown>) | undefined>
): ((body: unknown) => Promise<unknown>) | undefined {
  const present = steps.filter((s): s is (body: unknown) => Promise<unknown> => s !== undefined);
  if (present.length === 0) return undefined;
  return async (body) => {
    let out = body;
    for (const step of present) out = await step(out);
    return out;
  };
}
