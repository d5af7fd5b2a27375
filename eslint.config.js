// ESLint flat config: `npm run lint` (scripts/test.sh runs it after the type check, so `npm test` fails on a lint
// error). Prettier (`npm run format`, .prettierrc.json) owns layout and wraps long code lines; ESLint checks the
// rest, plus the 120-column limit on what Prettier cannot wrap (comments, long strings).
// Untyped linting on purpose: typed rules would need the whole TypeScript program and cost more than the type
// check that `npm test` already runs (`tsc --noEmit`), on a 2-core machine.
import js from '@eslint/js';
import stylistic from '@stylistic/eslint-plugin';
import prettier from 'eslint-config-prettier';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  // Generated, installed or not ours.
  globalIgnores([
    'node_modules/',
    '.tools/',
    '.venv/',
    '.sluice/',
    'dist/',
    'build/',
    'coverage/',
    'bundles/build/',
    'bench-results/',
    'test-output/',
  ]),

  {
    files: ['**/*.{ts,mts,js,mjs}'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Stated explicitly (recommended has it too): `any` only at a declared boundary, each one marked with
      // `// eslint-disable-next-line @typescript-eslint/no-explicit-any -- <why>`.
      '@typescript-eslint/no-explicit-any': 'error',
      // Tuned: the code names a deliberately unused binding with a leading `_` — above all the rest-destructuring
      // that drops keys from an object (`const { d: _private, ...publicJwk } = jwk`, dev-issuer.ts) and callback
      // parameters kept for position (`(_name, header) => …`). Anything else unused is still an error.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },

  // Turns off every rule that fights Prettier's layout; must come after the rule sets above.
  prettier,

  {
    // After `prettier`, which switches max-len off: Prettier wraps code at 120 columns, this catches what it
    // cannot wrap. Strings, template literals and comments count too: split or rewrap them by hand.
    plugins: { '@stylistic': stylistic },
    rules: {
      '@stylistic/max-len': ['error', { code: 120, tabWidth: 2, ignoreUrls: true }],
    },
  },
);
