// Makes the embedded state database's template in a process of its own, which then exits:
// PGlite's initdb and the unpacking of a data directory leave ~350 MB behind in the process that
// ran them (WebAssembly heaps and compiled code that are not given back), and a gateway that did
// this itself kept that memory for as long as it ran. Plain JavaScript, so it starts without a
// TypeScript loader. The gateway (gateway/store/pglite-db.ts) runs it:
//   node pglite-init.mjs template DATA_DIR TAR_FILE CONF_JSON SCHEMA_FILE
// A fresh cluster (initdb) given the schema (SCHEMA_FILE: a JSON list of statements), dumped to
// TAR_FILE (what an in-memory database loads) and unpacked to DATA_DIR (what a new database copies).
import { PGlite } from '@electric-sql/pglite';
import { readFileSync, writeFileSync } from 'node:fs';

const [op, dataDir, tarFile, conf, schemaFile] = process.argv.slice(2);

if (op !== 'template') {
  process.stderr.write(`pglite-init: unknown operation ${op}\n`);
  process.exit(2);
}
const postgresqlconf = JSON.parse(conf);
const fresh = await PGlite.create({ postgresqlconf });
await fresh.transaction(async (tx) => {
  for (const statement of JSON.parse(readFileSync(schemaFile, 'utf8'))) await tx.query(statement);
});
const dump = await fresh.dumpDataDir('none');
await fresh.close();
writeFileSync(tarFile, Buffer.from(await dump.arrayBuffer()), { mode: 0o600 });
const unpacked = await PGlite.create({ dataDir, loadDataDir: dump, postgresqlconf });
await unpacked.close();
