// Lint for lib/, nodes/, bin/, scripts/, bench/ and test/ (`npm run lint`). Not type-aware: on the
// project's 2-core boards a typed lint costs minutes per run. Editor HTML (nodes/*.html) is not linted.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { defineConfig } from 'eslint/config';

// Node's globals for the CommonJS scripts (TypeScript files get them from @types/node; the
// typescript-eslint preset turns `no-undef` off there).
const node = Object.fromEntries(
  [
    'require',
    'module',
    'exports',
    '__dirname',
    '__filename',
    'process',
    'console',
    'Buffer',
    'URL',
    'URLSearchParams',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'clearImmediate',
    'queueMicrotask',
    'performance',
    'fetch',
    'AbortController',
    'AbortSignal',
    'structuredClone',
    'TextEncoder',
    'TextDecoder',
    'globalThis',
  ].map((name) => [name, 'readonly']),
);

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', '.hub/', 'bench/results/', 'coverage/', '.nyc_output/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // `_name` marks a parameter kept for its place in a callback signature; `{ drop, ...rest }`
      // drops a field on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // `catch {}` in a polling or best-effort cleanup path ignores the failure on purpose.
      'no-empty': ['error', { allowEmptyCatch: true }],
      // Errors are re-thrown with a message written for the user from the cause's text only: the raw
      // cause can carry request options, headers or stored values, i.e. secrets, into logs.
      'preserve-caught-error': 'off',
      // The code strips and rejects control characters in vendor and feed text on purpose.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      // Node-RED's RED/node/msg objects are untyped at the glue; an `any` there is allowed but shown.
      '@typescript-eslint/no-explicit-any': 'warn',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: node },
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    // ES module configs (eslint, stryker) run under Node too.
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: node },
  },
  {
    // Shared editor/runtime scripts: loaded by the editor page (window) and required by the runtime.
    files: ['resources/**/*.js'],
    languageOptions: { globals: { ...node, window: 'readonly', RED: 'readonly', $: 'readonly' } },
  },
  {
    // Node-RED glue keeps `const node = this` for the callbacks, as Node-RED's core nodes do.
    files: ['nodes/**/*.ts'],
    rules: { '@typescript-eslint/no-this-alias': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Node tests load the compiled modules from dist/ by computed path, the way Node-RED does.
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
);
