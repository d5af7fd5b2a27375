// Makes the embedded state database's files in a process of its own, which then exits: PGlite's
// initdb and the unpacking of a data directory leave ~200 MB behind in the process that ran them
// (WebAssembly heaps and compiled code that are not given back), and a gateway that did this
// itself kept that memory for as long as it ran. Plain JavaScript, so it starts without a
// TypeScript loader. The gateway (gateway/store/pglite-db.ts) runs it:
//   node pglite-init.mjs template OUT_FILE CONF_JSON SCHEMA_FILE
//                                                       a fresh cluster (initdb) given the schema (SCHEMA_FILE: a
//                                                       JSON list of statements), dumped (a tar) to OUT_FILE
//   node pglite-init.mjs unpack DATA_DIR TEMPLATE_FILE CONF_JSON
//                                                       DATA_DIR made from the dump (through DATA_DIR.partial-PID
//                                                       and a rename: a crash leaves no half-made directory)
import { PGlite } from '@electric-sql/pglite';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

const [op, target, arg1, arg2] = process.argv.slice(2);

if (op === 'template') {
  const db = await PGlite.create({ postgresqlconf: JSON.parse(arg1) });
  await db.transaction(async (tx) => {
    for (const statement of JSON.parse(readFileSync(arg2, 'utf8'))) await tx.query(statement);
  });
  const dump = await db.dumpDataDir('none');
  await db.close();
  writeFileSync(target, Buffer.from(await dump.arrayBuffer()), { mode: 0o600 });
} else if (op === 'unpack') {
  const partial = `${target}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  const loadDataDir = new Blob([readFileSync(arg1)]);
  const db = await PGlite.create({ dataDir: partial, loadDataDir, postgresqlconf: JSON.parse(arg2) });
  await db.close();
  renameSync(partial, target);
} else {
  process.stderr.write(`pglite-init: unknown operation ${op}\n`);
  process.exit(2);
}
