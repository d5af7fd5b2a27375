import { writeWasmCapabilities, jsBuiltinNames } from '/work/main/gateway/policy/capabilities.ts';
const t = performance.now();
const r = await writeWasmCapabilities({ opaBin: '/work/main/.tools/bin/opa', outFile: '/tmp/opx/cap.json' });
console.log(performance.now() - t, r.opaVersion, r.builtins.length, r.dropped.length, jsBuiltinNames());
console.log(r.builtins.includes('glob.match'), r.builtins.includes('http.send'), r.builtins.includes('time.parse_rfc3339_ns'), r.builtins.includes('sprintf'), r.builtins.includes('internal.template_string'));
