import { createHash } from 'node:crypto';
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
import { objectReferences } from '../inspect/object-references.ts';
import { createdObjects } from '../relay/created-objects.ts';
import { spoolUpload, type SpooledUpload } from '../inspect/upload-spool.ts';
import { spoolSkillUpload, type SpooledSkill } from '../inspect/skill-upload.ts';
import type { Identity } from '../identity/identity.ts';
import { maskStage, type ForwardPlan } from '../mask/mask-stage.ts';
import { decide, type Decided } from '../policy/decide.ts';
import { buildPolicyInput, type ResourceFacts, type SkillFacts } from '../policy/input.ts';
import { relayJson, type RelayContext } from '../relay/relay-json.ts';
import { relayBinary } from '../relay/relay-binary.ts';
import { relayStream } from '../relay/relay-stream.ts';
import { settleExchangeWritten } from './settle-exchange.ts';
import type { Relayed } from '../relay/relayed.ts';
import { relayBatchResults } from '../batches/batch-results.ts';
import type { BatchRequestRecord } from '../batches/batch-store.ts';
import { CallerGone, forward } from '../upstream/forward.ts';
import {
  reserveBudgets,
  settleBudgets,
  streamUsage,
  tokenUsage,
  type BatchUse,
  type Reservation,
} from '../usage/budget-stage.ts';
import type { TokenUsage } from '../usage/prices.ts';
import type { Exchange } from './exchange.ts';
import { batchAnswer, batchForwardPlan, resultsRequests, settleBatchResults } from './batch-stage.ts';
import { recordDecision } from './exchange-record.ts';
import {
  filterListing,
  forgetSkillVersion,
  isAnthropicSkill,
  lookUpReferences,
  lookUpResource,
  recordAnswerObjects,
  objectNotFound,
  ownedTypeOf,
  recordCreated,
  recordSkillVersion,
  settleOwnership,
} from './ownership-stage.ts';
import { maskUpload, scanUpload, uploadBody, uploadDetection, type ForwardedFile } from './upload-stage.ts';
import { maskSkill, scanSkill, skillBody, skillDetection } from './skill-upload-stage.ts';
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
  // A file upload is streamed to a private temporary file first (the request body is read here,
  // after authentication), and that file is removed however the call ends.
  const upload =
    ex.operation.request === 'upload'
      ? await ex.trace.stage('spool', () =>
          spoolUpload(req.raw, req.headers as Record<string, string>, deps.files.maxUploadBytes, deps.files.spoolDir),
        )
      : undefined;
  try {
    // A skill upload likewise: its files to a private temporary directory, removed however the call ends.
    const skill =
      ex.operation.request === 'skill_upload'
        ? await ex.trace.stage('spool', () =>
            spoolSkillUpload(req.raw, req.headers as Record<string, string>, deps.files.spoolDir),
          )
        : undefined;
    try {
      await runStages(req, reply, ex, deps, upload, skill);
    } finally {
      await skill?.remove();
    }
  } finally {
    await upload?.remove();
  }
}

async function runStages(
  req: FastifyRequest,
  reply: FastifyReply,
  ex: Exchange,
  deps: ProxyDeps,
  upload: SpooledUpload | undefined,
  skill: SpooledSkill | undefined,
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
  const uploadScan =
    upload && (await trace.stage('scan_upload', () => scanUpload(upload, engine.entities, deps.files.maxScanBytes)));
  const skillScan = skill && (await trace.stage('scan_skill', () => scanSkill(skill, engine.entities)));
  const detection = ex.set(
    'detection',
    await trace.stage('detect', () =>
      uploadScan
        ? uploadDetection(engine.entities, inspected, uploadScan)
        : skillScan
          ? skillDetection(engine.entities, inspected, skillScan)
          : detectEntities(engine.entities, inspected),
    ),
  );

  const resource = ex.set(
    'resource',
    await trace.stage('ownership', () =>
      lookUpResource(deps.ownership, ex.operation, connection.name, params, deps.unknownObjects),
    ),
  );
  // The files, container and custom skills a message names by id must be the caller's too.
  const references = ex.set(
    'references',
    ex.operation.request === 'message'
      ? await trace.stage('references', () =>
          lookUpReferences(
            deps.ownership,
            objectReferences(inspected.body?.value),
            connection.name,
            deps.unknownObjects,
          ),
        )
      : [],
  );

  // Hashed only when an approval is presented or required: most calls never need it.
  const held: HeldCall = {
    subject: caller.identity.sub,
    groups: caller.identity.groups,
    connection: connection.name,
    operation: ex.operation.operation,
    decisionId: ex.decisionId,
    facts: detection.facts,
    // An approval binds to the file's bytes for an upload, to the JSON body's otherwise.
    bodyHash: () => upload?.sha256 ?? (skill ? skillSha256(skill) : bodySha256(inspected.body?.raw)),
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
      references,
      upload: uploadScan?.facts ?? null,
      skill: skillScan?.facts ?? null,
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
  if (upload && allow.limits.maxUploadBytes !== undefined && upload.sizeBytes > allow.limits.maxUploadBytes) {
    const limit = allow.limits.maxUploadBytes;
    throw new SluiceError('SLUICE_ERR_UPLOAD_TOO_LARGE', `the file exceeds your upload limit of ${limit} bytes`);
  }

  const numbering = deps.placeholderNumbering.for(caller.session?.id);
  const masked =
    upload && uploadScan
      ? await trace.stage('mask', () =>
          maskUpload(upload, uploadScan, {
            directive: allow.mask,
            kit: engine.entities,
            hashKey: deps.maskHashKey,
            numbering,
          }),
        )
      : undefined;
  const maskedSkill =
    skill && skillScan
      ? await trace.stage('mask', () =>
          maskSkill(skill, skillScan, {
            directive: allow.mask,
            kit: engine.entities,
            hashKey: deps.maskHashKey,
            numbering,
          }),
        )
      : undefined;
  const plan = ex.set(
    'forwardPlan',
    masked?.forwardPlan ??
      maskedSkill?.forwardPlan ??
      (inspected.batch
        ? // A batch: each request decided and masked as a messages.create, refused whole if one is not allowed.
          await trace.stage('batch', () => batchForwardPlan(ex, deps, engine, inspected, detection))
        : await trace.stage('mask', () =>
            maskStage(detection, inspected.body, allow.mask, deps.maskHashKey, numbering),
          )),
  );
  const sent =
    upload && masked
      ? uploadBody(upload, masked.file)
      : skill && maskedSkill
        ? skillBody(skill, maskedSkill)
        : undefined;
  // A batch's results are masked by the decisions its requests got: none recorded, nothing to relay.
  const batchRequests =
    ex.operation.relay === 'batch_results' ? await resultsRequests(ex, deps, params.batch_id ?? '') : undefined;
  if (caller.session) await deps.sessions.setIdleTimeout(caller.session.id, allow.session.idleTimeoutSeconds);
  // Before the approval is used: a call refused for budget keeps its approval for a later retry.
  const reservation = await trace.stage('budget', () =>
    reserveBudgets(deps.usage, deps.prices, allow.limits.budgets, inspected.facts),
  );
  try {
    await useApproval(deps.approvals, approval, held);
    await forwardAndRelay(req, reply, ex, deps, { plan, reservation, sent, upload, masked, resource, batchRequests });
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

/** What the stages before forwarding decided goes upstream, and what the answer settles. */
interface Forwarding {
  readonly plan: ForwardPlan;
  readonly reservation: Reservation;
  /** An upload's multipart body and headers, rebuilt from the (masked) spooled file. */
  readonly sent: ReturnType<typeof uploadBody> | undefined;
  readonly upload: SpooledUpload | undefined;
  readonly masked: Awaited<ReturnType<typeof maskUpload>> | undefined;
  readonly resource: ResourceFacts | null;
  /** For a batch's results: the decision each of its requests got, which masks its result. */
  readonly batchRequests: Awaited<ReturnType<typeof resultsRequests>> | undefined;
}

/** Write-ahead audit, forward, relay, then settle ownership and the budgets to what the answer reported. */
async function forwardAndRelay(
  req: FastifyRequest,
  reply: FastifyReply,
  ex: Exchange,
  deps: ProxyDeps,
  { plan, reservation, sent, upload, masked, resource, batchRequests }: Forwarding,
): Promise<void> {
  const { trace } = ex;
  const connection = ex.get('connection')!;
  const caller = ex.get('caller')!;
  const inspected = ex.get('inspected')!;
  const params = req.params as Record<string, string>;

  const callerGone = new CallerGone();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) callerGone.abort(new Error('caller disconnected'));
  });
  // Write-ahead: the decision is in the audit file before anything goes upstream, so a crash
  // mid-call leaves it (verify reports it without its exchange record, as incomplete).
  recordDecision(deps.audit, ex);
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
      body: sent?.body ?? plan.bytes,
      ...(sent ? { headers: sent.headers } : {}),
      signal: callerGone,
    }),
  );

  const relay: RelayContext = {
    connection: connection.name,
    mask: plan.mask,
    mark: (stage) => trace.mark(stage),
    responseBytes: deps.responseBytes,
    rewrite: answerRewrite(
      answerHook(
        ex,
        deps,
        connection.name,
        caller.identity,
        masked && upload ? uploadDetails(upload, masked.file) : skillDetails(ex.get('policyInput')?.skill),
        resource,
      ),
      batchAnswer(req, ex, deps),
    ),
  };
  if (batchRequests && upstream.statusCode === 200) {
    reply.hijack();
    // Each succeeded result's usage, by custom_id, settled against its request's budgets once relayed.
    const used = new Map<string, BatchUse>();
    const results = {
      connection: connection.name,
      requests: batchRequests,
      kit: ex.get('detection')!.kit,
      hashKey: deps.maskHashKey,
      numbering: deps.placeholderNumbering.for(caller.session?.id),
      ledger: plan.mask.ledger,
      maxLineBytes: deps.responseBytes,
      mark: relay.mark,
      onUsage: (record: BatchRequestRecord, usage: unknown) => {
        const u = tokenUsage(usage);
        if (u) used.set(record.customId, { budgets: record.budgets, model: record.model, usage: u });
      },
    };
    let ended = false;
    const endResults = async (relayed: Relayed): Promise<void> => {
      if (ended) return;
      ended = true;
      ex.set('relayed', relayed);
      // The caller has (or, strict, is about to get) its results: a settlement the database does
      // not take is logged, not answered.
      await settleBatchResults(deps, connection.name, params.batch_id ?? '', used).catch((err: unknown) =>
        req.log.error({ err, decision_id: ex.decisionId }, 'batch results usage not settled'),
      );
    };
    const beforeEnd = async (relayed: Relayed): Promise<void> => {
      await endResults(relayed);
      await settleExchangeWritten(req, deps, ex);
    };
    const strict = deps.auditDurability === 'strict';
    await endResults(await relayBatchResults(upstream, reply.raw, strict ? { ...results, beforeEnd } : results));
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
  if (ex.operation.operation === 'skills.versions.delete' && upstream.statusCode < 300)
    await forgetSkillVersion(deps.ownership, connection.name, params);
  // What follows the answer: once it is relayed, or (audit durability strict) before its end goes
  // out, when the call is also recorded and its record written.
  let finished = false;
  const finish = async (relayed: Relayed): Promise<void> => {
    if (finished) return;
    finished = true;
    ex.set('relayed', relayed);
    // A stream's created files and container are known once it ended (a JSON answer's, before it went out).
    if (streamed) await recordCreatedByAnswer(deps, ex, relayed.response.body);
    // What the answer says was used (a cut stream: also the output it sent); an error answer used nothing;
    // an answer without usage, the estimate.
    const reported = streamed
      ? streamUsage(relayed.response.body, reservation)
      : (tokenUsage(relayed.response.usage) ?? (upstream.statusCode >= 400 ? ZERO_USAGE : undefined));
    await settle(deps, reservation, reported);
    const usage = tokenUsage(relayed.response.usage);
    if (usage) {
      const model = inspected.facts.model;
      ex.set('billed', {
        family: deps.prices.familyOf(model),
        usage,
        costMicroUsd: deps.prices.costMicroUsd(model, usage),
      });
    }
  };
  const relayCtx: RelayContext =
    deps.auditDurability === 'strict'
      ? {
          ...relay,
          beforeEnd: async (relayed) => {
            await finish(relayed);
            await settleExchangeWritten(req, deps, ex);
          },
        }
      : relay;
  await finish(
    streamed
      ? await relayStream(upstream, reply.raw, relayCtx)
      : ex.operation.relay === 'binary'
        ? await relayBinary(upstream, reply, relayCtx, deps.files.maxScanBytes)
        : await relayJson(upstream, reply, relayCtx),
  );
}

/**
 * What happens to a successful JSON answer before it goes out, for operations on owned objects: a
 * listing keeps the caller's own objects; a creation records the caller as the new object's owner
 * (so a caller that got the id can use it). Undefined for every other call.
 */
function answerHook(
  ex: Exchange,
  deps: ProxyDeps,
  connection: string,
  identity: Identity,
  details: Readonly<Record<string, unknown>> | undefined,
  resource: ResourceFacts | null,
): ((body: unknown) => Promise<unknown>) | undefined {
  if (ex.operation.operation === 'skills.get' && resource === null) {
    // Read as one of Anthropic's skills (no owner checked): an answer saying otherwise is not shown.
    return async (body) => {
      if (!isAnthropicSkill(body)) throw objectNotFound('skill', String((body as { id?: unknown } | null)?.id ?? ''));
      return body;
    };
  }
  if (ex.operation.operation === 'skills.versions.create') {
    return async (body) => {
      await recordSkillVersion(deps.ownership, connection, identity, body, 'version');
      return body;
    };
  }
  if (ex.operation.operation === 'messages.create') {
    return async (body) => {
      await recordCreatedByAnswer(deps, ex, body);
      return body;
    };
  }
  const type = ownedTypeOf(ex.operation);
  switch (type === undefined ? undefined : ex.operation.resource?.action) {
    case 'list':
      return (body) => filterListing(deps.ownership, type!, connection, identity.sub, body);
    case 'create':
      return async (body) => {
        await recordCreated(deps.ownership, type!, connection, identity, body, details ?? {});
        if (type === 'skill') await recordSkillVersion(deps.ownership, connection, identity, body, 'skill');
        return body;
      };
    default:
      return undefined;
  }
}

/** Records the caller as owner of the files and container a message answer created. */
async function recordCreatedByAnswer(deps: ProxyDeps, ex: Exchange, message: unknown): Promise<void> {
  const created = createdObjects(message);
  if (created.length === 0) return;
  const { identity } = ex.get('caller')!;
  await recordAnswerObjects(deps.ownership, created, ex.get('connection')!.name, identity);
}

/** What an uploaded file's ownership record keeps: the facts of the bytes that went upstream, never content. */
function uploadDetails(upload: SpooledUpload, file: ForwardedFile): Record<string, unknown> {
  return {
    filename: upload.filename,
    media_type: upload.mediaType,
    size_bytes: file.sizeBytes,
    sha256: file.sha256,
    ...(file.sha256 === upload.sha256 ? {} : { sha256_received: upload.sha256 }),
  };
}

/** What a skill's ownership record keeps: what the policy saw of it (entity values already replaced), no content. */
function skillDetails(skill: SkillFacts | null | undefined): Record<string, unknown> | undefined {
  if (!skill) return undefined;
  return {
    name: skill.name,
    size_bytes: skill.size_bytes,
    files: skill.files.length,
    display_title: skill.display_title,
  };
}

/** What an approval of a skill upload binds to: its display title and every file's path and SHA-256, in order. */
function skillSha256(skill: SpooledSkill): string {
  const hash = createHash('sha256');
  hash.update(`${skill.displayTitle?.field ?? ''}\u0000${skill.displayTitle?.value ?? ''}\n`);
  for (const file of skill.files) hash.update(`${file.path}\u0000${file.sha256}\n`);
  return hash.digest('hex');
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
