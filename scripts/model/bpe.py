"""Byte-level BPE (GPT-2 style) shared by the tokenizer, training and export stages.

Pure Python, no dependencies. The pre-tokenisation regex is the GPT-2 one that
@huggingface/tokenizers' ByteLevel pre-tokenizer uses:

    's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+   (JS, flags gu)

Python's `re` has no \\p{..}, so the letter / number classes are generated from unicodedata and the
whitespace class is the exact set JavaScript's \\s matches, so both sides split identically.
"""
import json
import re
import sys
import unicodedata

EOT = "<|endoftext|>"


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_ENCODER = bytes_to_unicode()
BYTE_DECODER = {v: k for k, v in BYTE_ENCODER.items()}


def _class_ranges(pred):
    out = []
    start = None
    for cp in range(sys.maxunicode + 1):
        ok = pred(cp)
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            out.append((start, cp - 1))
            start = None
    if start is not None:
        out.append((start, sys.maxunicode))

    def esc(c):
        return "\\U%08x" % c

    return "".join(esc(a) if a == b else esc(a) + "-" + esc(b) for a, b in out)


def _build_pattern():
    surrogate = lambda cp: 0xD800 <= cp <= 0xDFFF
    L = _class_ranges(lambda cp: not surrogate(cp) and unicodedata.category(chr(cp)).startswith("L"))
    N = _class_ranges(lambda cp: not surrogate(cp) and unicodedata.category(chr(cp)).startswith("N"))
    # JavaScript \s (ECMAScript WhiteSpace + LineTerminator).
    WS = "\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
    pat = (
        "'s|'t|'re|'ve|'m|'ll|'d"
        f"| ?[{L}]+| ?[{N}]+| ?[^{WS}{L}{N}]+|[{WS}]+(?![^{WS}])|[{WS}]+"
    )
    return re.compile(pat)


PAT = _build_pattern()
SPECIAL_SPLIT = re.compile("(" + re.escape(EOT) + ")")


def pretokenize(text):
    """Text without special tokens -> list of byte-level 'words' (strings over the byte alphabet)."""
    return ["".join(BYTE_ENCODER[b] for b in m.encode("utf-8")) for m in PAT.findall(text)]


class Tokenizer:
    def __init__(self, vocab, merges):
        self.vocab = vocab  # token string -> id
        self.inv = {i: t for t, i in vocab.items()}
        self.ranks = {tuple(m): i for i, m in enumerate(merges)}
        self.eot_id = vocab[EOT]
        self.cache = {}

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            tj = json.load(f)
        merges = [m.split(" ") if isinstance(m, str) else m for m in tj["model"]["merges"]]
        vocab = dict(tj["model"]["vocab"])
        for t in tj["added_tokens"]:
            vocab[t["content"]] = t["id"]
        return cls(vocab, merges)

    def _bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        parts = list(word)
        while len(parts) > 1:
            best = None
            best_rank = None
            for i in range(len(parts) - 1):
                r = self.ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best_rank = r
                    best = i
            if best is None:
                break
            a, b = parts[best], parts[best + 1]
            # merge every occurrence of the best pair, left to right (as HF does)
            out = []
            i = 0
            while i < len(parts):
                if i < len(parts) - 1 and parts[i] == a and parts[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            parts = out
        ids = [self.vocab[p] for p in parts]
        if len(self.cache) < 500000:
            self.cache[word] = ids
        return ids

    def encode(self, text, add_bos=False):
        ids = [self.eot_id] if add_bos else []
        for chunk in SPECIAL_SPLIT.split(text):
            if chunk == EOT:
                ids.append(self.eot_id)
            elif chunk:
                for w in pretokenize(chunk):
                    ids.extend(self._bpe(w))
        return ids

    def decode(self, ids):
        toks = [self.inv[i] for i in ids]
        out = bytearray()
        for t in toks:
            if t == EOT:
                out += EOT.encode("utf-8")
            else:
                out += bytes(BYTE_DECODER[c] for c in t)
        return out.decode("utf-8", errors="replace")
