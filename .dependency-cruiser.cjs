/**
 * Import rules for gateway/, checked by `npm run lint:imports` (part of `npm test`):
 * no circle between files or between folders ("rooms"), and the CLI tooling stays outside the
 * gateway (the running gateway never loads impact analysis, bundle building tests or audit tools).
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular-files',
      comment: 'A file that (indirectly) imports itself: split out what both sides need.',
      severity: 'error',
      from: { path: '^gateway/' },
      to: { circular: true },
    },
    {
      name: 'no-circular-rooms',
      comment: 'Two folders of gateway/ that import each other: one of them must sit below the other.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^gateway/' },
      to: { circular: true },
    },
    {
      name: 'gateway-never-imports-cli',
      comment: 'gateway/cli/ is tooling around the gateway; the gateway itself must not depend on it.',
      severity: 'error',
      from: { path: '^gateway/', pathNot: '^gateway/(cli|bin)/' },
      to: { path: '^gateway/cli/' },
    },
    {
      name: 'gateway-never-imports-tests-or-scripts',
      severity: 'error',
      from: { path: '^gateway/' },
      to: { path: '^(test|scripts)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.mjs', '.js'] },
  },
};
