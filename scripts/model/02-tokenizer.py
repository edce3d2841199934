#!/usr/bin/python3
"""Stage 2: train a byte-level BPE tokenizer (vocab 4096 incl. <|endoftext|>) on build/model/data/train.txt,
or reuse an existing one, and encode the data.

    /usr/bin/python3 scripts/model/02-tokenizer.py [--vocab 4096] [--reuse models/tiny-stdlib-llama/tokenizer.json]

--reuse copies the given tokenizer.json (with its tokenizer_config.json and special_tokens_map.json
beside it) instead of training one: needed to continue training a model that was trained with it.

Writes build/model/tokenizer/{tokenizer.json,tokenizer_config.json,special_tokens_map.json} and the
token-id streams build/model/data/{train,heldout}.bin (uint16, documents separated by <|endoftext|>,
one <|endoftext|> before the first document) used by training.  train.bin is the concatenation of
the per-source train.<source>.txt streams in stats.json's order; tokens.json records each source's
token range so training can sample sources with weights.  Every heldout*.txt is encoded to a .bin
beside it (per-source held-out numbers).
"""
import argparse
import collections
import heapq
import json
import os
import sys
import time

import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bpe import BYTE_ENCODER, EOT, SPECIAL_SPLIT, Tokenizer, pretokenize  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "build", "model")


def train_bpe(word_counts, n_merges, log_every=500):
    """Incremental pair-count BPE. word_counts: {byte-level word: count}. Returns list of merges."""
    # symbols are strings; each word is a list of symbols
    words = [list(w) for w in word_counts]
    freqs = list(word_counts.values())
    pair_counts = collections.defaultdict(int)
    where = collections.defaultdict(set)
    for wi, (syms, f) in enumerate(zip(words, freqs)):
        for a, b in zip(syms, syms[1:]):
            pair_counts[(a, b)] += f
            where[(a, b)].add(wi)
    # max-heap with lazy invalidation; ties broken by the pair itself (deterministic)
    heap = [(-c, p) for p, c in pair_counts.items()]
    heapq.heapify(heap)
    merges = []
    t0 = time.time()
    while len(merges) < n_merges and heap:
        negc, pair = heapq.heappop(heap)
        cur = pair_counts.get(pair, 0)
        if cur <= 0:
            continue
        if -negc != cur:
            heapq.heappush(heap, (-cur, pair))
            continue
        a, b = pair
        new = a + b
        merges.append(pair)
        touched = set()
        for wi in list(where[pair]):
            syms = words[wi]
            f = freqs[wi]
            # remove old pairs
            for x, y in zip(syms, syms[1:]):
                pair_counts[(x, y)] -= f
                touched.add((x, y))
            out = []
            i = 0
            while i < len(syms):
                if i < len(syms) - 1 and syms[i] == a and syms[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            for x, y in zip(syms, syms[1:]):
                s = where.get((x, y))
                if s is not None:
                    s.discard(wi)
            words[wi] = out
            for x, y in zip(out, out[1:]):
                pair_counts[(x, y)] += f
                where[(x, y)].add(wi)
                touched.add((x, y))
        pair_counts.pop(pair, None)
        where.pop(pair, None)
        for p in touched:
            c = pair_counts.get(p, 0)
            if c > 0:
                heapq.heappush(heap, (-c, p))
            elif p in pair_counts:
                del pair_counts[p]
        if len(merges) % log_every == 0:
            print(f"  merges {len(merges)}/{n_merges} last={new!r} count={cur} {time.time()-t0:.1f}s", flush=True)
    return merges


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--data", default=os.path.join(BUILD, "data"))
    ap.add_argument("--out", default=os.path.join(BUILD, "tokenizer"))
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--reuse", default=None, help="existing tokenizer.json to copy instead of training one")
    args = ap.parse_args()
    if args.reuse:
        import shutil
        os.makedirs(args.out, exist_ok=True)
        src = os.path.dirname(os.path.abspath(args.reuse))
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copyfile(os.path.join(src, name), os.path.join(args.out, name))
        print(f"reusing the tokenizer in {src}", flush=True)
        encode_all(args, time.time())
        return

    t0 = time.time()
    with open(os.path.join(args.data, "train.txt"), encoding="utf-8") as f:
        train_text = f.read()
    counts = collections.Counter()
    for chunk in SPECIAL_SPLIT.split(train_text):
        if chunk and chunk != EOT:
            counts.update(pretokenize(chunk))
    print(f"pre-tokenised: {sum(counts.values())} words, {len(counts)} unique, {time.time()-t0:.1f}s", flush=True)

    # ids: 0 = <|endoftext|>, 1..256 = the 256 bytes (in byte order), then merges in order
    vocab = {EOT: 0}
    for b in range(256):
        vocab[BYTE_ENCODER[b]] = len(vocab)
    n_merges = args.vocab - len(vocab)
    merges = train_bpe(counts, n_merges)
    for a, b in merges:
        vocab[a + b] = len(vocab)
    assert len(vocab) == args.vocab, len(vocab)
    print(f"trained {len(merges)} merges in {time.time()-t0:.1f}s", flush=True)

    os.makedirs(args.out, exist_ok=True)
    model_vocab = {t: i for t, i in vocab.items() if t != EOT}
    tok_json = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": 0,
                "content": EOT,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        # Every sequence starts with <|endoftext|> (bos), as every training document did.
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": EOT, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [
                {"SpecialToken": {"id": EOT, "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": EOT, "type_id": 1}},
                {"Sequence": {"id": "B", "type_id": 1}},
            ],
            "special_tokens": {EOT: {"id": EOT, "ids": [0], "tokens": [EOT]}},
        },
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": model_vocab,
            "merges": [[a, b] for a, b in merges],
        },
    }
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok_json, f, ensure_ascii=False, indent=1)
    tok_cfg = {
        "tokenizer_class": "GPT2Tokenizer",
        "add_bos_token": True,
        "add_eos_token": False,
        "add_prefix_space": False,
        "bos_token": EOT,
        "eos_token": EOT,
        "unk_token": EOT,
        "pad_token": EOT,
        "clean_up_tokenization_spaces": False,
        "model_max_length": args.max_length,
        "added_tokens_decoder": {
            "0": {"content": EOT, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
        },
    }
    with open(os.path.join(args.out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tok_cfg, f, ensure_ascii=False, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump({"bos_token": EOT, "eos_token": EOT, "unk_token": EOT, "pad_token": EOT}, f, indent=2)
        f.write("\n")

    encode_all(args, t0)


def encode_all(args, t0):
    """Encode the corpora to uint16 id streams (see the module docstring)."""
    tok = Tokenizer.load(os.path.join(args.out, "tokenizer.json"))
    with open(os.path.join(args.data, "stats.json")) as f:
        data_stats = json.load(f)
    stats = {"train_sources": []}

    def enc(path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        ids = np.asarray(tok.encode(text, add_bos=True), dtype=np.uint16)
        return ids, len(text.encode("utf-8"))

    parts = []
    start = 0
    for name in data_stats["sources"]:
        ids, nbytes = enc(os.path.join(args.data, f"train.{name}.txt"))
        parts.append(ids)
        w = data_stats.get("mix", {}).get(name)
        stats["train_sources"].append({"source": name, "start": start, "end": start + len(ids), "bytes": nbytes, "weight": w})
        start += len(ids)
        print(f"train.{name}: {len(ids)} tokens, {nbytes} bytes, {nbytes/len(ids):.3f} bytes/token", flush=True)
    train = np.concatenate(parts)
    train.tofile(os.path.join(args.data, "train.bin"))
    nbytes = sum(s["bytes"] for s in stats["train_sources"])
    stats["train"] = {"tokens": len(train), "bytes": nbytes, "bytes_per_token": nbytes / len(train)}
    for fn in sorted(os.listdir(args.data)):
        if fn.startswith("heldout") and fn.endswith(".txt"):
            ids, nbytes = enc(os.path.join(args.data, fn))
            ids.tofile(os.path.join(args.data, fn[:-4] + ".bin"))
            stats[fn[:-4]] = {"tokens": len(ids), "bytes": nbytes, "bytes_per_token": nbytes / len(ids)}
            print(f"{fn[:-4]}: {len(ids)} tokens, {nbytes} bytes, {nbytes/len(ids):.3f} bytes/token", flush=True)
    with open(os.path.join(args.data, "tokens.json"), "w") as f:
        json.dump(stats, f, indent=2)
    print(f"done in {time.time()-t0:.1f}s")


if __name__ == "__main__":
    main()
