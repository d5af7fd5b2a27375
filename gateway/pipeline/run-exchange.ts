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
import { buildPolicyInput } from '../policy/input.ts';
import { relayJson, type RelayContext } from '../relay/relay-json.ts';
import { relayStream } from '../relay/relay-stream.ts';
import { relayBatchResults } from '../batches/batch-results.ts';
import { CallerGone, forward } from '../upstream/forward.ts';
import type { Exchange } from './exchange.ts';
import { batchAnswer, batchForwardPlan, resultsRequests } from './batch-stage.ts';
import { recordDecision } from './exchange-record.ts';
import type { ProxyDeps } from './proxy-deps.ts';

function isEventStream(headers: Record<string, string | string[] | undefined>): boolean {
  return String(headers['content-type'] ?? '').startsWith('text/event-stream');
}

type Allow = Extract<Decided['decision'], { kind: 'allow' }>;

/** The allow that lets the call go on; the policy's refusal, as the caller sees it, otherwise. */
function allowed(decided: Decided, approvalId: string | undefined): Allow {
  const { decision } = decided;
  switch (decision.kind) {
    case 'allow':
      return decision;
    case 'deny': {
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
 * The stages of one authenticated call, top to bottom: inspect → detect → decide → (hold →
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
  const allow = allowed(final, approval?.id);

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

  const onAnswer = batchAnswer(req, ex, deps);
  const relay: RelayContext = {
    connection: connection.name,
    mask: plan.mask,
    mark: (stage) => trace.mark(stage),
    responseBytes: deps.responseBytes,
    ...(onAnswer ? { onAnswer } : {}),
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
  ex.set('relayed', streamed ? await relayStream(upstream, reply.raw, relay) : await relayJson(upstream, reply, relay));
}
