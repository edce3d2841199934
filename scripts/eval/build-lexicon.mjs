#!/usr/bin/env node
// Builds the word list `entropix eval --lexicon` checks generated words against: every alphabetic
// word (lower-cased, the same tokenisation as src/eval/text-metrics.ts) that occurs in the given
// training text files, sorted, one per line.
//
//   node scripts/eval/build-lexicon.mjs OUT.txt TRAIN.txt [MORE.txt ...]
//
// data/eval/lexicon-tiny-stdlib-llama.txt is built from the bundled model's training text
// (build/model/data/train.txt after `node scripts/model/01-data.mjs`).
import { readFileSync, writeFileSync } from 'node:fs';

const [out, ...inputs] = process.argv.slice(2);
if (!out || inputs.length === 0) {
  console.error('usage: node scripts/eval/build-lexicon.mjs OUT.txt TRAIN.txt [MORE.txt ...]');
  process.exit(2);
}
const WORD = /[\p{L}]+(?:['’][\p{L}]+)*/gu;
const words = new Set();
for (const file of inputs) {
  const text = readFileSync(file, 'utf8');
  for (const w of text.match(WORD) ?? []) words.add(w.toLowerCase().replace(/’/g, "'"));
}
words.delete('endoftext');
const sorted = [...words].sort();
writeFileSync(out, `${sorted.join('\n')}\n`);
console.log(`${out}: ${sorted.length} words from ${inputs.length} file(s)`);
