/**
 * Evaluates the policy bundle in-process with opa-wasm: one synchronous WASM call per request,
 * no network hop. Every failure (trap, undefined result, result outside the contract) is a
 * SLUICE_ERR_POLICY_ERROR: the gateway fails closed, it never guesses an allow.
 */
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { SluiceError } from '../errors.ts';
import { buildDetectorKit, type DetectorKit } from '../inspect/detector-kit.ts';
import { TEXT_RULES_ENTRYPOINT } from './bundle-build.ts';
import { readBundle, type PolicyBundle } from './bundle-reader.ts';
import { parseDecision, type Decision } from './decision.ts';
import type { PolicyInput } from './input.ts';
import { manifestSaysReadsText } from './input-reads.ts';
import { TextMatcher } from './text-matcher.ts';

const ENTRYPOINT = 'sluice/decision';

/**
 * WASM memory in 64 KiB pages. The ceiling bounds what one evaluation may take (the request
 * text is part of the input, and the body limit is 10 MiB by default), so a runaway policy
 * traps instead of eating the host's memory.
 */
const MEMORY: WebAssembly.MemoryDescriptor = { initial: 32, maximum: 4096 };

/**
 * WASM memory never shrinks: one multi-MiB prompt would keep its pages for the bundle's life
 * (a 9 MB prompt held ~90 MB of RSS). Past this size after an evaluation, a fresh instance of the
 * same module replaces the grown one.
 */
const RELEASE_MEMORY_ABOVE_BYTES = 16 * 2 ** 20;

/** The request used to prove a freshly loaded bundle evaluates at all: no groups, no grants. */
const SMOKE_INPUT: PolicyInput = {
  identity: {
    sub: 'sluice-smoke-test',
    iss: 'sluice',
    client_id: null,
    groups: [],
    scopes: [],
    token_id: null,
    issued_at: 0,
    expires_at: 0,
    issuer_name: 'default',
    claims: {},
  },
  connection: 'sluice-smoke-test',
  request: {
    operation: 'messages.create',
    model: 'sluice-smoke-test',
    stream: false,
    max_tokens: 1,
    skills: [],
    tools: [],
    mcp_servers: [],
    tool_choice: null,
    container: null,
    media: { images: 0, documents: 0, bytes: 0 },
    betas: [],
    estimated_input_tokens: 0,
    text: '',
    findings: {},
  },
  session: null,
  approval: null,
  now: new Date(0).toISOString(),
};

/** What a trap looks like: opa-wasm throws plain strings (opa_abort) as well as Errors. */
function describe(thrown: unknown): string {
  return thrown instanceof Error ? thrown.message : String(thrown);
}

/**
 * A loaded policy bundle. Immutable once built: a new bundle means a new engine, swapped in
 * through the PolicyStore, so an in-flight request keeps the engine it started with.
 */
export class PolicyEngine {
  private policy: LoadedPolicy;
  private replacingInstance = false;

  private constructor(
    policy: LoadedPolicy,
    /** The compiled module and data, to instantiate afresh when memory grew (releaseGrownMemory). */
    private readonly module: WebAssembly.Module,
    private readonly data: Record<string, unknown>,
    private readonly entrypointId: number,
    /** The bundle's manifest revision (git sha or dev-<timestamp>), copied to decision events. */
    readonly revision: string,
    /** The entity detector for this bundle (built-ins plus its custom entities), built at load. */
    readonly entities: DetectorKit,
    /** The bundle's text rules, matched in TypeScript; undefined when it declares none. */
    private readonly textMatcher: TextMatcher | undefined,
    /**
     * Whether the policy reads input.request.text; when not (per the manifest), the WASM input leaves the prompt out.
     */
    readonly readsText: boolean,
  ) {
    this.policy = policy;
  }

  /**
   * Loads a bundle file and proves it works with a smoke evaluation. Throws (with the file
   * name) when the bundle is unreadable, the WASM does not instantiate, or the smoke
   * evaluation traps or answers outside the decision contract.
   */
  static async fromBundle(file: string): Promise<PolicyEngine> {
    return PolicyEngine.fromParsed(await readBundle(file, ENTRYPOINT), file);
  }

  /**
   * As fromBundle, for a bundle already unpacked and parsed (e.g. downloaded and verified); `label` names it in errors.
   */
  static async fromParsed(bundle: PolicyBundle, label: string): Promise<PolicyEngine> {
    const file = label;
    try {
      const module = await WebAssembly.compile(new Uint8Array(bundle.wasm));
      const policy = await loadPolicy(module, { ...MEMORY });
      policy.setData(bundle.data);
      const entrypoints = policy.entrypoints as Record<string, unknown>;
      const id = entrypoints[ENTRYPOINT];
      if (typeof id !== 'number') throw new Error(`the WASM module has no entrypoint ${ENTRYPOINT}`);
      const textRulesId = entrypoints[TEXT_RULES_ENTRYPOINT];
      // The terms depend on data only, so one evaluation at load serves every request.
      const textMatcher =
        typeof textRulesId === 'number'
          ? TextMatcher.fromRules(firstResult(policy.evaluate({}, textRulesId)))
          : undefined;
      const engine = new PolicyEngine(
        policy,
        module,
        bundle.data,
        id,
        bundle.manifest.revision,
        buildDetectorKit(bundle.data),
        textMatcher,
        manifestSaysReadsText(bundle.manifest),
      );
      engine.evaluateWithResult(SMOKE_INPUT);
      return engine;
    } catch (err) {
      throw new Error(`policy bundle ${file} does not evaluate: ${describe(err)}`, { cause: err });
    }
  }

  /**
   * Evaluates sluice/decision for one request; returns the parsed decision, the raw result and
   * the input as evaluated: with `request.text_matches` from this bundle's own text rules
   * (replacing any in `input`, so a replayed input is matched against the bundle replaying it).
   * The WASM gets the prompt text only if the policy reads it (readsText); the returned input,
   * which the decision event records, always has it.
   * Synchronous: opa-wasm evaluates in the calling thread, and one evaluation takes microseconds.
   * After a trap the instance stays usable: ABI 1.2 resets the heap on every evaluation.
   */
  evaluateWithResult(input: PolicyInput): { decision: Decision; result: unknown; input: PolicyInput } {
    const evaluated = this.textMatcher
      ? { ...input, request: { ...input.request, text_matches: this.textMatcher.match(input.request.text) } }
      : input;
    let resultSet: unknown;
    try {
      resultSet = this.policy.evaluate(this.readsText ? evaluated : withoutText(evaluated), this.entrypointId);
    } catch (err) {
      throw new SluiceError('SLUICE_ERR_POLICY_ERROR', `policy evaluation failed (${describe(err)}); request refused`, {
        cause: err,
      });
    } finally {
      this.releaseGrownMemory();
    }
    const result = firstResult(resultSet);
    if (result === undefined) {
      throw new SluiceError(
        'SLUICE_ERR_POLICY_ERROR',
        `policy ${ENTRYPOINT} is undefined for this request; request refused`,
      );
    }
    return { decision: parseDecision(result), result, input: evaluated };
  }

  /** Bytes of WASM memory the current instance holds (for /metrics). */
  get memoryBytes(): number {
    return this.policy.mem.buffer.byteLength;
  }

  /**
   * Swaps in a fresh instance when an evaluation grew the memory past RELEASE_MEMORY_ABOVE_BYTES.
   * Asynchronous and rare (after multi-MiB prompts): evaluations keep the grown instance until
   * the fresh one is ready, and a failed instantiation leaves it in place.
   */
  private releaseGrownMemory(): void {
    if (this.replacingInstance || this.memoryBytes <= RELEASE_MEMORY_ABOVE_BYTES) return;
    this.replacingInstance = true;
    loadPolicy(this.module, { ...MEMORY })
      .then((fresh) => {
        fresh.setData(this.data);
        this.policy = fresh;
      })
      .catch(() => undefined)
      .finally(() => (this.replacingInstance = false));
  }
}

/** The input without request.text, for a policy that never reads it: a prompt's copy and parse in WASM saved. */
function withoutText(input: PolicyInput): unknown {
  const { text: _unread, ...request } = input.request;
  return { ...input, request };
}

/** The value of an opa-wasm result set (`[{result}]`), undefined when the rule is undefined. */
function firstResult(resultSet: unknown): unknown {
  return Array.isArray(resultSet) ? (resultSet[0] as { result?: unknown } | undefined)?.result : undefined;
}
