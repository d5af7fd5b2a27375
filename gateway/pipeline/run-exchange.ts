import type { FastifyReply, FastifyRequest } from 'fastify';
import { approvalInput, awaitApproval, bodySha256, presentedApproval, useApproval } from '../approvals/approval-stage.ts';
import { SluiceError } from '../errors.ts';
import type { Operation, RequestFacts } from '../inspect/facts.ts';
import { inspectMessagesRequest, inspectModelsRequest, parseBetas } from '../inspect/messages-request.ts';
import { detectEntities, maskStage } from '../mask/masking-stage.ts';
import { buildPolicyInput } from '../policy/input.ts';
import { CallerGone, forward } from '../upstream/forward.ts';
import type { Exchange } from './exchange.ts';
import type { JsonBody } from '../inspect/json-body.ts';
import type { ProxyDeps } from './proxy-plugin.ts';
import { recordDecision } from './exchange-record.ts';
import { relayJson } from '../relay/relay-json.ts';
import { relayStream } from '../relay/relay-stream.ts';

interface ExchangeArgs {
  readonly req: FastifyRequest;
  readonly reply: FastifyReply;
  readonly ex: Exchange;
  readonly body: JsonBody | undefined;
  readonly deps: ProxyDeps;
}

function inspect(operation: Operation, req: FastifyRequest, body: JsonBody | undefined, deps: ProxyDeps): RequestFacts {
  const betas = parseBetas(req.headers['anthropic-beta']);
  if (operation === 'models.list' || operation === 'models.get') {
    return inspectModelsRequest(operation, (req.params as { model_id?: string }).model_id, betas);
  }
  return inspectMessagesRequest(operation, body?.value, betas, deps.unknownBlocks ?? 'refuse');
}

/** The upstream path is rebuilt from what the gateway understood, never copied from the caller. */
function upstreamPath(operation: Operation, req: FastifyRequest): string {
  switch (operation) {
    case 'messages.create':
      return '/v1/messages';
    case 'messages.count_tokens':
      return '/v1/messages/count_tokens';
    case 'models.get':
      return `/v1/models/${encodeURIComponent((req.params as { model_id: string }).model_id)}`;
    case 'models.list': {
      const q = req.query as Record<string, unknown>;
      const kept = new URLSearchParams();
      for (const key of ['limit', 'before_id', 'after_id']) if (typeof q[key] === 'string') kept.set(key, q[key]);
      const qs = kept.toString();
      return qs ? `/v1/models?${qs}` : '/v1/models';
    }
  }
}

function isEventStream(headers: Record<string, string | string[] | undefined>): boolean {
  return String(headers['content-type'] ?? '').startsWith('text/event-stream');
}

/**
 * The stages of one authenticated call, in DESIGN.md's order: inspect → decide → forward →
 * relay. A refusal at any stage throws a SluiceError; the route's error handler answers and audits.
 */
export async function runExchange({ req, reply, ex, body, deps }: ExchangeArgs): Promise<void> {
  const identity = ex.identity!;
  const connection = ex.connection!;
  const facts = await ex.timed('inspect', () => inspect(ex.operation, req, body, deps));
  ex.facts = facts;
  ex.forwardedBody = body?.value ?? null;

  const engine = deps.policies.current();
  if (!engine) throw new SluiceError('SLUICE_ERR_POLICY_NOT_READY');
  ex.bundleRevision = engine.revision;
  const detection = await ex.timed('detect', () => detectEntities(engine.entities, facts, body?.value));
  ex.facts = detection.facts;
  ex.maskedInputPaths = detection.maskedInputPaths;
  ex.detectorKit = engine.entities;
  // Hashed only when an approval is presented or required: most calls never need it.
  const bodyHash = (): string => bodySha256(body?.raw);
  let approval = await presentedApproval(deps.approvals, req.headers, ex, bodyHash);
  // Set before evaluating so a policy error's decision event still carries the input.
  ex.policyInput = buildPolicyInput({ identity, connection: connection.name, facts: detection.facts, session: ex.session, approval: approvalInput(approval), now: new Date() });
  let { decision, result, input: evaluated } = await ex.timed('policy', () => engine.evaluateWithResult(ex.policyInput!));
  ex.policyInput = evaluated;
  ex.decision = decision;
  ex.policyResult = result;
  if (decision.kind === 'approval_required') {
    // Hold for a human, then decide again with the approval in the input, so an approved call
    // gets the policy's full allow (masks, limits) and still honours a deny.
    const required = decision;
    const presented = approval;
    approval = await ex.timed('approval_hold', () => awaitApproval(deps.approvals, reply.raw, ex, required, presented, bodyHash));
    ex.policyInput = { ...evaluated, approval: approvalInput(approval), now: new Date().toISOString() };
    ({ decision, result, input: evaluated } = await ex.timed('policy_after_approval', () => engine.evaluateWithResult(ex.policyInput!)));
    ex.policyInput = evaluated;
    ex.decision = decision;
    ex.policyResult = result;
  }
  switch (decision.kind) {
    case 'deny':
      throw new SluiceError('SLUICE_ERR_POLICY_DENIED', decision.reasons.length > 0 ? `denied by policy: ${decision.reasons.join('; ')}` : undefined);
    case 'approval_required':
      // Only reachable when the policy ignores an approved approval: refuse rather than loop.
      throw new SluiceError('SLUICE_ERR_APPROVAL_REQUIRED', `approval ${approval?.id} was given, yet the policy still requires one: ${decision.approval.reason}`);
    case 'allow':
      ex.maskPlan = await ex.timed('mask', () => {
        const numbering = deps.placeholderNumbering.for(ex.session?.id);
        const masked = maskStage(engine.entities, decision.mask, deps.maskHashKey, numbering, detection.scan, body?.value);
        if (masked.raw) ex.forwardedRaw = masked.raw;
        return masked.plan;
      });
      if (ex.session) await deps.sessions.setIdleTimeout(ex.session.id, decision.session.idleTimeoutSeconds);
      await useApproval(deps.approvals, approval, ex);
      break;
  }

  const callerGone = new CallerGone();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) callerGone.abort(new Error('caller disconnected'));
  });
  // Write-ahead: the decision is in the audit file before anything goes upstream, so a crash
  // mid-call leaves it (verify reports it without its exchange record, as incomplete).
  recordDecision(deps.audit, ex, deps.auditMaxContentBytes);
  await ex.timed('audit_ahead', () =>
    deps.audit.written().catch((err: unknown) => {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new SluiceError('SLUICE_ERR_AUDIT_UNAVAILABLE', `audit trail unavailable, request refused (fail closed): the decision could not be written (${reason})`);
    }),
  );
  // Sluice's own latency before the upstream: everything from the request's arrival to here.
  ex.mark('forwarded');
  const upstream = await ex.timed('upstream_headers', () =>
    forward({ connection, method: req.method as 'GET' | 'POST', path: upstreamPath(ex.operation, req), callerHeaders: req.headers, body: ex.forwardedRaw ?? body?.forward, signal: callerGone }),
  );
  if (facts.stream && upstream.statusCode < 400 && isEventStream(upstream.headers)) {
    reply.hijack();
    await relayStream(upstream, reply.raw, ex, deps.responseBytes);
  } else {
    await relayJson(upstream, reply, ex, deps.responseBytes);
  }
}
