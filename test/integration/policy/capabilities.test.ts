import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BUILTIN_METADATA,
  jsBuiltinNames,
  restrictCapabilities,
  wasmNativeBuiltinNames,
} from '../../../gateway/policy/capabilities.ts';

const metadata = {
  _categories: { strings: ['startswith'] },
  startswith: { wasm: true, available: ['v1.21.0', 'v1.22.2'] },
  'http.send': { wasm: false, available: ['v1.22.2'] },
  'future.only': { wasm: true, available: ['v1.30.0'] },
  'no.wasm.flag': { available: ['v1.22.2'] },
};

describe('wasmNativeBuiltinNames', () => {
  it('keeps only builtins native to WASM in the given OPA version', () => {
    expect(wasmNativeBuiltinNames(metadata, '1.22.2')).toEqual(['startswith']);
    expect(wasmNativeBuiltinNames(metadata, 'v1.22.2')).toEqual(['startswith']);
  });

  it('refuses metadata that does not describe the OPA version in use', () => {
    expect(() => wasmNativeBuiltinNames(metadata, '1.99.0')).toThrow(/does not describe OPA v1.99.0/);
  });

  it(
    'reads the real metadata of the pinned OPA: ' + 'glob.match is native, http.send and time parsing are not',
    async () => {
      const names = wasmNativeBuiltinNames(JSON.parse(await readFile(DEFAULT_BUILTIN_METADATA, 'utf8')), '1.22.2');
      expect(names).toEqual(
        expect.arrayContaining(['glob.match', 'startswith', 'object.get', 'concat', 'internal.template_string']),
      );
      for (const missing of ['http.send', 'time.parse_rfc3339_ns', 'time.now_ns', 'sprintf', 'io.jwt.decode'])
        expect(names).not.toContain(missing);
    },
  );
});

describe('jsBuiltinNames', () => {
  it("lists exactly opa-wasm's JavaScript builtins", () => {
    expect(jsBuiltinNames()).toEqual([
      'json.is_valid',
      'regex.split',
      'sprintf',
      'yaml.is_valid',
      'yaml.marshal',
      'yaml.unmarshal',
    ]);
  });
});

describe('restrictCapabilities', () => {
  it('drops unsupported builtins and keeps every other field', () => {
    const current = {
      builtins: [{ name: 'startswith', decl: {} }, { name: 'http.send' }],
      features: ['rego_v1'],
      wasm_abi_versions: [{ version: 1, minor_version: 2 }],
    };
    const { capabilities, dropped } = restrictCapabilities(current, new Set(['startswith']));
    expect(capabilities).toEqual({
      builtins: [{ name: 'startswith', decl: {} }],
      features: ['rego_v1'],
      wasm_abi_versions: [{ version: 1, minor_version: 2 }],
    });
    expect(dropped).toEqual(['http.send']);
  });
});
