import { buildBundle } from '/work/main/gateway/policy/bundle-build.ts';
const r = await buildBundle({ policiesDir: 'policies', outFile: '/tmp/opx/out/sluice.tar.gz' });
console.log(r);
try { await buildBundle({ policiesDir: '/tmp/opx/bad', outFile: '/tmp/opx/out2/x.tar.gz' }); } catch (e) { console.log(String(e)); }
