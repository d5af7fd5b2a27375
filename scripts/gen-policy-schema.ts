/**
 * Writes gateway/policy/input.schema.json, the JSON Schema of the policy input, from the
 * gateway's own PolicyInput type (so the schema cannot drift from what the gateway sends; a unit
 * test fails when the committed file differs). Objects are closed (additionalProperties false),
 * so `opa check --schema` refuses a rule that reads a field the gateway never sets.
 * Run: node --import tsx scripts/gen-policy-schema.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { policyInputSchema, POLICY_INPUT_SCHEMA_FILE } from './policy-input-schema.ts';

const text = `${JSON.stringify(policyInputSchema(), null, 2)}\n`;
if (process.argv.includes('--check')) {
  if (readFileSync(POLICY_INPUT_SCHEMA_FILE, 'utf8') !== text) {
    console.error(`${POLICY_INPUT_SCHEMA_FILE} is out of date: run node --import tsx scripts/gen-policy-schema.ts`);
    process.exit(1);
  }
} else {
  writeFileSync(POLICY_INPUT_SCHEMA_FILE, text);
  console.log(`wrote ${POLICY_INPUT_SCHEMA_FILE}`);
}
