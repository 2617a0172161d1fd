// Builds dist/ (index.html, app.js, app.css) from src/, and with --test the unit tests into
// build/test/. The reason tooltips are derived here from core's emission table, so the UI's
// wording is the table the master and agent emit from.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';

/** Every (emitter, message) the emission table gives each seed reason id. */
export function reasonTable(source) {
  const table = {};
  const add = (emitter, message, seed) => {
    if (!seed.startsWith('REASON_')) return;
    const line = `${emitter}: ${message}`;
    table[seed] ??= [];
    if (!table[seed].includes(line)) table[seed].push(line);
  };
  for (const m of source.matchAll(/row\(\s*Trigger::\w+,\s*(\w+),[\s\S]*?"([^"]*)",\s*"(\w+)"\s*\)/g)) add(m[1], m[2], m[3]);
  for (const m of source.matchAll(/emitter:\s*(\w+),[\s\S]*?message:\s*"([^"]*)",\s*seed:\s*"(\w+)"/g)) add(m[1], m[2], m[3]);
  return table;
}

const reasons = reasonTable(readFileSync(new URL('../crates/core/src/task/emission.rs', import.meta.url), 'utf8'));
const virtualReasons = {
  name: 'reasons',
  setup(b) {
    b.onResolve({ filter: /^virtual:reasons$/ }, () => ({ path: 'reasons', namespace: 'reasons' }));
    b.onLoad({ filter: /.*/, namespace: 'reasons' }, () => ({ contents: JSON.stringify(reasons, Object.keys(reasons).sort(), 0), loader: 'json' }));
  },
};

const common = { bundle: true, jsx: 'automatic', jsxImportSource: 'preact', plugins: [virtualReasons], logLevel: 'warning', legalComments: 'none' };

if (process.argv.includes('--test')) {
  mkdirSync('build/test', { recursive: true });
  await build({
    ...common,
    entryPoints: readdirSync('test').filter((f) => f.endsWith('.test.ts')).map((f) => `test/${f}`),
    outdir: 'build/test', outExtension: { '.js': '.mjs' }, platform: 'node', format: 'esm',
    external: ['node:*'],
  });
} else {
  mkdirSync('dist', { recursive: true });
  await build({ ...common, entryPoints: ['src/app.tsx'], outfile: 'dist/app.js', minify: true, format: 'iife', target: 'es2020' });
  await build({ entryPoints: ['src/app.css'], outfile: 'dist/app.css', minify: true, bundle: true, logLevel: 'warning' });
  copyFileSync('src/index.html', 'dist/index.html');
}
