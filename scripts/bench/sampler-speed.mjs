#!/usr/bin/env node
// Decode speed of the Entropix samplers relative to plain `--sampler temperature`, on both bundled
// models, measured in one process per model with interleaved rounds (scripts/bench/decode-worker.mjs)
// so machine noise hits every variant alike. Prints a markdown table; `npm run bench` and
// `npm run eval` include it.
//
//   node scripts/bench/sampler-speed.mjs [--reps 9] [--tokens 400]
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const arg = (name, dflt) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);
const REPS = arg('--reps', 9);
const TOKENS = arg('--tokens', 400);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// Issue #16's rows (EVAL.md): K = 2, 4 × M = 4, 8 with the default trigger (resample, explore), and
// the setting that did best on the development prompts of both models (data/eval/dev/, never the eval
// prompts): two candidates, one token of lookahead, at every step that is not confident.
export const BRANCH_ROWS = [
  'entropix(branch=2;lookahead=4)',
  'entropix(branch=4;lookahead=4)',
  'entropix(branch=2;lookahead=8)',
  'entropix(branch=4;lookahead=8)',
  'entropix(branch=2;lookahead=1;branch-on=explore,resample,adaptive)',
];

export function samplerSpeed() {
  const rows = [];
  for (const name of ['tiny-stdlib-llama', 'stories260k']) {
    const cfg = { dir: path.join(ROOT, 'models', name), tokens: TOKENS, promptTokens: 16, reps: REPS, threads: 2, promptText: 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends every day.', variants: ['temperature', 'entropix', 'entropix-reference'] };
    const out = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'bench', 'decode-worker.mjs'), JSON.stringify(cfg)], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
    const { runs } = JSON.parse(out.trim().split('\n').pop());
    const tps = (v) => median(runs[v].map((r) => r.decodeTps));
    const ratio = (v) => median(runs[v].map((r, i) => r.decodeTps / runs.temperature[i].decodeTps));
    rows.push({ name, temperature: tps('temperature'), entropix: tps('entropix'), reference: tps('entropix-reference'), ratio: ratio('entropix'), refRatio: ratio('entropix-reference') });
  }
  return rows;
}

/**
 * Decode time of each branching variant relative to the plain default `entropix`, per bundled model:
 * { model: { variant: median same-round ratio of ms per token } }. Variants are `entropix eval` specs.
 */
export function branchSpeed(variants) {
  const out = {};
  for (const name of ['tiny-stdlib-llama', 'stories260k']) {
    const cfg = { dir: path.join(ROOT, 'models', name), tokens: TOKENS, promptTokens: 16, reps: REPS, threads: 2, promptText: 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends every day.', variants: ['entropix', ...variants] };
    const res = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'bench', 'decode-worker.mjs'), JSON.stringify(cfg)], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
    const { runs } = JSON.parse(res.trim().split('\n').pop());
    out[name] = Object.fromEntries(variants.map((v) => [v, median(runs[v].map((r, i) => r.decodeMsPerToken / runs.entropix[i].decodeMsPerToken))]));
  }
  return out;
}

export function branchSpeedTable(ratios) {
  const variants = Object.keys(Object.values(ratios)[0] ?? {});
  const models = Object.keys(ratios);
  return [
    `| variant | ${models.map((m) => `${m}: decode time ÷ \`entropix\``).join(' | ')} |`,
    `|---|${models.map(() => '---').join('|')}|`,
    ...variants.map((v) => `| \`${v}\` | ${models.map((m) => `${ratios[m][v].toFixed(2)}×`).join(' | ')} |`),
    '',
    `Median over ${REPS} interleaved rounds of ${TOKENS} tokens (\`scripts/bench/sampler-speed.mjs --branch\`, 2 threads) of the same-round ratio of milliseconds per generated token.`,
  ].join('\n');
}

export function samplerSpeedTable(rows) {
  const L = [
    `| model | \`temperature\` tok/s | \`entropix\` tok/s | \`entropix\` ÷ \`temperature\` (same rounds) | \`entropix-reference\` ÷ \`temperature\` |`,
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.name} | ${r.temperature.toFixed(1)} | ${r.entropix.toFixed(1)} | ${r.ratio.toFixed(3)}× | ${r.refRatio.toFixed(3)}× |`),
    '',
    `Median over ${REPS} interleaved rounds of ${TOKENS} tokens (\`scripts/bench/sampler-speed.mjs\`, 2 threads); the ratio is the median of same-round ratios.`,
  ];
  return L.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--branch')) {
    process.stdout.write(`${branchSpeedTable(branchSpeed(BRANCH_ROWS))}\n`);
  } else process.stdout.write(`${samplerSpeedTable(samplerSpeed())}\n`);
}
