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
import { maskStage, type ForwardPlan } from '../mask/mask-stage.ts';
import { decide, type Decided } from '../policy/decide.ts';
import { buildPolicyInput } from '../policy/input.ts';
import { relayJson, type RelayContext } from '../relay/relay-json.ts';
import { relayStream } from '../relay/relay-stream.ts';
import { CallerGone, forward } from '../upstream/forward.ts';
import { reserveBudgets, settleBudgets, tokenUsage, type Reservation } from '../usage/budget-stage.ts';
import type { TokenUsage } from '../usage/prices.ts';
import type { Exchange } from './exchange.ts';
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
    await trace.stage('mask', () =>
      maskStage(
        detection,
        inspected.body,
        allow.mask,
        deps.maskHashKey,
        deps.placeholderNumbering.for(caller.session?.id),
      ),
    ),
  );
  if (caller.session) await deps.sessions.setIdleTimeout(caller.session.id, allow.session.idleTimeoutSeconds);
  // Before the approval is used: a call refused for budget keeps its approval for a later retry.
  const reservation = await trace.stage('budget', () =>
    reserveBudgets(deps.usage, deps.prices, allow.limits.budgets, inspected.facts),
  );
  try {
    await useApproval(deps.approvals, approval, held);
    await forwardAndRelay(req, reply, ex, deps, plan, reservation);
  } catch (err) {
    // Nothing reached the upstream, or its use is unknown: release the reservation, then answer.
    if (ex.get('relayed') === undefined) await settle(deps, reservation, ZERO_USAGE);
    throw err;
  }
}

const ZERO_USAGE: TokenUsage = { input: 0, output: 0, cacheWrite: 0, cacheRead: 0 };

/**
 * Settles a call's budgets. A settlement the database does not take (it went down meanwhile)
 * leaves the reservation counted: the budget is overcharged by one estimate, the safe side, and
 * the caller's answer is not disturbed.
 */
async function settle(deps: ProxyDeps, reservation: Reservation, used: TokenUsage | undefined): Promise<void> {
  await settleBudgets(deps.usage, deps.prices, reservation, used).catch(() => undefined);
}

/** Write-ahead audit, forward, relay, then settle the budgets to the usage the answer reported. */
async function forwardAndRelay(
  req: FastifyRequest,
  reply: FastifyReply,
  ex: Exchange,
  deps: ProxyDeps,
  plan: ForwardPlan,
  reservation: Reservation,
): Promise<void> {
  const { trace } = ex;
  const connection = ex.get('connection')!;
  const inspected = ex.get('inspected')!;
  const params = req.params as Record<string, string>;

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
  };
  const streamed =
    ex.operation.relay === 'message' &&
    inspected.facts.stream &&
    upstream.statusCode < 400 &&
    isEventStream(upstream.headers);
  if (streamed) reply.hijack();
  const relayed = ex.set(
    'relayed',
    streamed ? await relayStream(upstream, reply.raw, relay) : await relayJson(upstream, reply, relay),
  );
  // What the answer says was used; an error answer used nothing; an answer without usage, the estimate.
  const reported = tokenUsage(relayed.response.usage) ?? (upstream.statusCode >= 400 ? ZERO_USAGE : undefined);
  await settle(deps, reservation, reported);
}
