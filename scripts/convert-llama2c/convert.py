#!/usr/bin/python3
"""Convert a llama2.c checkpoint (legacy v0 format) and its tokenizer into the Hugging Face ONNX layout.

    /usr/bin/python3 scripts/convert-llama2c/convert.py \
        [--checkpoint ../shared/fixtures/tinyllamas-stories260K/stories260K.bin] \
        [--tokenizer  ../shared/fixtures/tinyllamas-stories260K/tok512.bin] \
        [--license    ../shared/fixtures/tinyllamas-stories260K/LICENSE.llama2c.txt] \
        [--out models/stories260k] [--check-only]

Writes config.json, generation_config.json, tokenizer.json, tokenizer_config.json,
special_tokens_map.json, onnx/model.onnx (opset 14, fp32, plain attention: one Softmax per layer),
LICENSE and README.md (the model card, with the checks' numbers).

Checks, each printed as PASS/FAIL (exit 1 when any fails):
  1. a numpy forward pass written here with llama2.c's own semantics (interleaved-pair rotary
     embedding, run.c's order of operations) decodes greedily from <s> to the published text;
  2. the torch model that gets exported (scripts/model/model.py, rotate-half rotary embedding, wq/wk
     rows permuted to match) gives the same logits as the numpy pass (max |diff| <= 1e-4);
  3. the exported ONNX file, run by onnxruntime-node (check-onnx.mjs), gives the numpy logits
     (<= 1e-4), its cached greedy decoding from <s> gives the published text, and the tokenizer.json
     loaded by @huggingface/transformers encodes text to the same ids as llama2.c's encoder.
`--check-only` validates the two input files and exits (no numpy or torch needed).

A file that is not a llama2.c checkpoint (wrong magic, implausible header, wrong size) is reported
in one line, exit 2, before numpy or torch are imported.
"""
import argparse
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURE = os.path.abspath(os.path.join(ROOT, "..", "shared", "fixtures", "tinyllamas-stories260K"))
BUILD = os.path.join(ROOT, "build", "convert-llama2c")

# The published greedy (temperature 0) output of stories260K from <s> (llama2.c's README / model card).
PUBLISHED_GREEDY = (
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, "
    "she saw a big, red ball. She wanted to play with it, but it was too high."
)
# Texts whose ids must match between llama2.c's encoder and the exported tokenizer.json.
TOKENIZER_SAMPLES = [
    "Once upon a time, there was a little girl named Lily.",
    "Tom and Sue went to the park. \"Look!\" said Sue. 'A big dog!'",
    "  two leading spaces, tabs\tand a\nnewline",
    "naïve café — 日本語 🐳 Ελληνικά",
    "1, 22, 333; x+y=z? 100%",
    "",
]
TOL = 1e-4
# llama2.c's export.py writes this magic at the start of its version 1 and 2 files.
LLAMA2C_MAGIC = 0x616B3432  # "ak42"
HEADER = struct.Struct("<7i")


class BadInput(Exception):
    """A checkpoint or tokenizer file that this converter cannot read; the message is one line."""


# ------------------------------------------------------------------------------------------------
# Reading the files (struct only, so bad input is reported before the heavy imports)

def read_header(path):
    """Validates a legacy (v0) llama2.c checkpoint's header and size. Returns the shape as a dict."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(HEADER.size)
    except OSError as e:
        raise BadInput(f"{path}: cannot read ({e.strerror})")
    if len(head) < HEADER.size:
        raise BadInput(f"{path}: {size} bytes, too short for a llama2.c checkpoint header (28 bytes); not a llama2.c checkpoint")
    if struct.unpack_from("<I", head)[0] == LLAMA2C_MAGIC:
        version = struct.unpack_from("<i", head, 4)[0]
        raise BadInput(f"{path}: llama2.c export version {version} (magic \"ak42\"); this converter reads the legacy "
                       f"version 0 format: re-export with llama2.c's `export.py --version 0`")
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = HEADER.unpack(head)
    shared = vocab > 0
    vocab = abs(vocab)
    shape = dict(dim=dim, hidden_dim=hidden, n_layers=layers, n_heads=heads, n_kv_heads=kv_heads,
                 vocab_size=vocab, seq_len=seq_len, shared_classifier=shared)
    plausible = (
        0 < dim <= 65536 and 0 < hidden <= 1 << 20 and 0 < layers <= 1024 and 0 < heads <= dim
        and 0 < kv_heads <= heads and 0 < vocab <= 1 << 22 and 0 < seq_len <= 1 << 22
        and dim % heads == 0 and heads % kv_heads == 0 and (dim // heads) % 2 == 0
    )
    if not plausible:
        raise BadInput(f"{path}: not a llama2.c checkpoint (header reads dim {dim}, hidden {hidden}, layers {layers}, "
                       f"heads {heads}, kv_heads {kv_heads}, vocab {vocab}, seq_len {seq_len}: not a valid shape)")
    expected = HEADER.size + 4 * sum(n for _, n in weight_layout(shape))
    if size < expected:
        raise BadInput(f"{path}: truncated: the header's shape needs {expected} bytes, the file has {size}; "
                       f"copy or download it again")
    if size > expected:
        raise BadInput(f"{path}: {size - expected} bytes more than the header's shape needs ({expected}); "
                       f"not a legacy llama2.c checkpoint of that shape")
    if not shared:
        raise BadInput(f"{path}: has a separate output classifier (negative vocab_size); only checkpoints with "
                       f"shared input/output embeddings are supported")
    return shape


def weight_layout(s):
    """(name, float count) in llama2.c's legacy file order (run.c memory_map_weights)."""
    d, h, L, V = s["dim"], s["hidden_dim"], s["n_layers"], s["vocab_size"]
    hs = d // s["n_heads"]
    kv = s["n_kv_heads"] * hs
    out = [
        ("tok_embeddings", V * d), ("rms_att", L * d), ("wq", L * d * d), ("wk", L * d * kv), ("wv", L * d * kv),
        ("wo", L * d * d), ("rms_ffn", L * d), ("w1", L * d * h), ("w2", L * h * d), ("w3", L * d * h),
        ("rms_final", d), ("freq_cis_real", s["seq_len"] * hs // 2), ("freq_cis_imag", s["seq_len"] * hs // 2),
    ]
    if not s["shared_classifier"]:
        out.append(("wcls", V * d))
    return out


def read_tokenizer(path, vocab_size):
    """Reads llama2.c's tokenizer.bin: int32 max length, then per token float32 score, int32 length, bytes."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise BadInput(f"{path}: cannot read ({e.strerror})")
    if len(data) < 4:
        raise BadInput(f"{path}: {len(data)} bytes; not a llama2.c tokenizer file")
    max_len = struct.unpack_from("<i", data)[0]
    if not 0 < max_len <= 1024:
        raise BadInput(f"{path}: not a llama2.c tokenizer file (max token length {max_len})")
    pos, pieces, scores = 4, [], []
    for i in range(vocab_size):
        if pos + 8 > len(data):
            raise BadInput(f"{path}: truncated at token {i} of {vocab_size}; the tokenizer does not match the checkpoint's vocabulary")
        score, n = struct.unpack_from("<fi", data, pos)
        pos += 8
        if not 0 <= n <= max_len or pos + n > len(data):
            raise BadInput(f"{path}: token {i} has length {n} (max {max_len}, {len(data) - pos} bytes left); not a llama2.c tokenizer file")
        pieces.append(data[pos:pos + n])
        scores.append(score)
        pos += n
    if pos != len(data):
        raise BadInput(f"{path}: {len(data) - pos} bytes after {vocab_size} tokens; the tokenizer has a larger "
                       f"vocabulary than the checkpoint")
    return pieces, scores


# ------------------------------------------------------------------------------------------------
# llama2.c's tokenizer (run.c encode/decode), as the reference for the tokenizer.json written here

class Llama2cTokenizer:
    def __init__(self, pieces, scores):
        self.pieces = pieces
        self.scores = scores
        self.lookup = {p: i for i, p in enumerate(pieces)}

    def encode(self, text, bos=True):
        ids = [1] if bos else []
        if text:
            ids.append(self.lookup[b" "])  # the dummy prefix SentencePiece adds
        for ch in text:
            b = ch.encode("utf-8")
            if b in self.lookup:
                ids.append(self.lookup[b])
            else:
                ids.extend(x + 3 for x in b)  # byte fallback: <0x00> is id 3
        while True:
            best, best_i = -1e10, -1
            for i in range(len(ids) - 1):
                j = self.lookup.get(self.pieces[ids[i]] + self.pieces[ids[i + 1]])
                if j is not None and self.scores[j] > best:
                    best, best_i, best_id = self.scores[j], i, j
            if best_i < 0:
                break
            ids[best_i:best_i + 2] = [best_id]
        return ids

    def decode(self, ids):
        out = b""
        prev = None
        for t in ids:
            if t in (1, 2):  # <s> / </s> delimit stories; run.c prints nothing for them
                prev = t
                continue
            p = self.pieces[t]
            if prev == 1 and p.startswith(b" "):
                p = p[1:]
            if p.startswith(b"<0x") and p.endswith(b">") and len(p) == 6:
                p = bytes([int(p[3:5], 16)])
            out += p
            prev = t
        return out.decode("utf-8", errors="replace")


def hf_tokenizer_files(pieces, scores):
    """tokenizer.json (+ config, special tokens map) for a Llama-style BPE with byte fallback.

    SentencePiece's BPE merges the adjacent pair whose result has the highest score; HF's BPE applies
    the lowest-ranked merge. So every way to split a piece into two pieces becomes a merge, ranked by
    the merged piece's score (then its id), as transformers' SentencePieceExtractor does."""
    special = {0: "<unk>", 1: "<s>", 2: "</s>"}
    vocab = {}
    for i, p in enumerate(pieces):
        if i in special:
            name = special[i]
        else:
            name = p.decode("utf-8").replace(" ", "\u2581")
        vocab[name] = i
    names = {i: n for n, i in vocab.items()}
    if len(names) != len(pieces):
        raise BadInput("tokenizer: duplicate pieces; cannot build a BPE vocabulary")
    merges = []
    for i, name in names.items():
        if i in special or name.startswith("<0x"):
            continue
        for k in range(1, len(name)):
            a, b = name[:k], name[k:]
            if a in vocab and b in vocab:
                merges.append((-scores[i], i, vocab[a], vocab[b], f"{a} {b}"))
    merges.sort()
    added = [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, c in special.items()]
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
        ]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
        },
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0},
        ]},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
            "vocab": vocab, "merges": [m[4] for m in merges],
        },
    }
    config = {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": {str(t["id"]): {k: v for k, v in t.items() if k != "id"} for t in added},
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": None,
        "clean_up_tokenization_spaces": False,
        "legacy": True,
        "model_max_length": None,  # filled in by the caller
        "spaces_between_special_tokens": False,
        "tokenizer_class": "LlamaTokenizer",
    }
    special_map = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    return tokenizer, config, special_map


# ------------------------------------------------------------------------------------------------
# The reference forward pass: llama2.c semantics in numpy (float64)

def load_weights(path, shape):
    import numpy as np
    raw = np.fromfile(path, dtype="<f4", offset=HEADER.size)
    w, pos = {}, 0
    for name, n in weight_layout(shape):
        w[name] = raw[pos:pos + n]
        pos += n
    d, h, L, V = shape["dim"], shape["hidden_dim"], shape["n_layers"], shape["vocab_size"]
    kv = shape["n_kv_heads"] * (d // shape["n_heads"])
    w["tok_embeddings"] = w["tok_embeddings"].reshape(V, d)
    w["rms_att"] = w["rms_att"].reshape(L, d)
    w["rms_ffn"] = w["rms_ffn"].reshape(L, d)
    # run.c's matmul(out, x, W, n, d): W is [d_out, n_in] row-major, i.e. nn.Linear's weight layout.
    w["wq"] = w["wq"].reshape(L, d, d)
    w["wk"] = w["wk"].reshape(L, kv, d)
    w["wv"] = w["wv"].reshape(L, kv, d)
    w["wo"] = w["wo"].reshape(L, d, d)
    w["w1"] = w["w1"].reshape(L, h, d)
    w["w2"] = w["w2"].reshape(L, d, h)
    w["w3"] = w["w3"].reshape(L, h, d)
    return w


def reference_forward(w, shape, ids):
    """Logits [len(ids), vocab] of llama2.c's transformer (run.c forward) for every position."""
    import numpy as np
    f = lambda a: a.astype(np.float64)  # noqa: E731
    d, L = shape["dim"], shape["n_layers"]
    H, KV = shape["n_heads"], shape["n_kv_heads"]
    hs = d // H
    T = len(ids)
    eps = 1e-5

    def rmsnorm(x, g):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * f(g)

    # run.c: for each even i, head_dim = i % head_size, freq = 10000^(-head_dim / head_size), and the
    # pair (v[i], v[i+1]) is rotated by pos * freq.
    pair = np.arange(0, hs, 2)
    freq = 1.0 / (10000.0 ** (pair / hs))
    ang = np.arange(T)[:, None] * freq[None, :]  # [T, hs/2]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]

    def rope(v):  # v [T, n, hs], interleaved pairs
        a, b = v[..., 0::2], v[..., 1::2]
        out = np.empty_like(v)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = a * sin + b * cos
        return out

    x = f(w["tok_embeddings"][ids])
    causal = np.tril(np.ones((T, T), dtype=bool))
    for l in range(L):
        xb = rmsnorm(x, w["rms_att"][l])
        q = rope((xb @ f(w["wq"][l]).T).reshape(T, H, hs))
        k = rope((xb @ f(w["wk"][l]).T).reshape(T, KV, hs))
        v = (xb @ f(w["wv"][l]).T).reshape(T, KV, hs)
        out = np.empty((T, H, hs))
        for hd in range(H):
            kh = hd // (H // KV)  # run.c: query head h reads kv head h / kv_mul
            att = q[:, hd, :] @ k[:, kh, :].T / np.sqrt(hs)
            att = np.where(causal, att, -np.inf)
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            out[:, hd, :] = att @ v[:, kh, :]
        x = x + out.reshape(T, d) @ f(w["wo"][l]).T
        xb = rmsnorm(x, w["rms_ffn"][l])
        h1, h3 = xb @ f(w["w1"][l]).T, xb @ f(w["w3"][l]).T
        x = x + (h1 / (1.0 + np.exp(-h1)) * h3) @ f(w["w2"][l]).T
    x = rmsnorm(x, w["rms_final"])
    return x @ f(w["tok_embeddings"]).T


def greedy_reference(w, shape, tok, n_chars):
    """Greedy ids from <s> (recomputing the whole sequence each step) until the text is n_chars long."""
    ids = [1]
    while len(tok.decode(ids)) < n_chars and len(ids) < shape["seq_len"]:
        nxt = int(reference_forward(w, shape, ids)[-1].argmax())
        if nxt == 1:  # run.c stops at BOS, which delimits stories
            break
        ids.append(nxt)
    return ids


# ------------------------------------------------------------------------------------------------
# The torch model that gets exported (scripts/model/model.py) and the ONNX export (04-export.py)

def rotate_half_permutation(n_heads, hs):
    """Row order that turns interleaved-pair rotary (x[2i], x[2i+1]) into rotate-half (x[i], x[i+hs/2]).

    Permuting the rows of wq and wk the same way leaves every q.k dot product unchanged."""
    import numpy as np
    per_head = np.concatenate([np.arange(0, hs, 2), np.arange(1, hs, 2)])
    return np.concatenate([h * hs + per_head for h in range(n_heads)])


def build_torch_model(w, shape):
    import torch
    sys.path.insert(0, os.path.join(ROOT, "scripts", "model"))
    from model import Config, LlamaLM
    d, H, KV = shape["dim"], shape["n_heads"], shape["n_kv_heads"]
    hs = d // H
    cfg = Config(vocab_size=shape["vocab_size"], dim=d, n_layers=shape["n_layers"], n_heads=H, n_kv_heads=KV,
                 head_dim=hs, hidden_dim=shape["hidden_dim"], max_position_embeddings=shape["seq_len"],
                 rms_norm_eps=1e-5, rope_theta=10000.0)
    model = LlamaLM(cfg)
    pq, pk = rotate_half_permutation(H, hs), rotate_half_permutation(KV, hs)
    t = lambda a: torch.from_numpy(a.copy())  # noqa: E731
    with torch.no_grad():
        model.embed_tokens.weight.copy_(t(w["tok_embeddings"]))
        model.norm.weight.copy_(t(w["rms_final"]))
        for l, layer in enumerate(model.layers):
            layer.input_layernorm.weight.copy_(t(w["rms_att"][l]))
            layer.post_attention_layernorm.weight.copy_(t(w["rms_ffn"][l]))
            layer.self_attn.q_proj.weight.copy_(t(w["wq"][l][pq]))
            layer.self_attn.k_proj.weight.copy_(t(w["wk"][l][pk]))
            layer.self_attn.v_proj.weight.copy_(t(w["wv"][l]))
            layer.self_attn.o_proj.weight.copy_(t(w["wo"][l]))
            layer.mlp.gate_proj.weight.copy_(t(w["w1"][l]))
            layer.mlp.up_proj.weight.copy_(t(w["w3"][l]))
            layer.mlp.down_proj.weight.copy_(t(w["w2"][l]))
    model.eval()
    return cfg, model


def load_export_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("export04", os.path.join(ROOT, "scripts", "model", "04-export.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ------------------------------------------------------------------------------------------------

def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


class Checks:
    def __init__(self):
        self.failed = 0
        self.lines = []

    def __call__(self, name, ok, detail=""):
        line = f"{'PASS' if ok else 'FAIL'} {name}{f' ({detail})' if detail else ''}"
        print(line, flush=True)
        self.lines.append(line)
        if not ok:
            self.failed += 1


def main():
    ap = argparse.ArgumentParser(description="Convert a llama2.c checkpoint to the Hugging Face ONNX layout.")
    ap.add_argument("--checkpoint", default=os.path.join(FIXTURE, "stories260K.bin"))
    ap.add_argument("--tokenizer", default=os.path.join(FIXTURE, "tok512.bin"))
    ap.add_argument("--license", default=os.path.join(FIXTURE, "LICENSE.llama2c.txt"))
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "stories260k"))
    ap.add_argument("--check-only", action="store_true", help="validate the input files, convert nothing")
    args = ap.parse_args()
    prog = "convert.py"
    try:
        shape = read_header(args.checkpoint)
        pieces, scores = read_tokenizer(args.tokenizer, shape["vocab_size"])
    except BadInput as e:
        print(f"{prog}: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"llama2.c checkpoint {args.checkpoint}: " + ", ".join(f"{k} {v}" for k, v in shape.items()))
    if args.check_only:
        print("input files are valid")
        return

    import numpy as np  # noqa: E402  (only after the input files are known to be good)
    import onnx
    import torch

    checks = Checks()
    tok = Llama2cTokenizer(pieces, scores)
    w = load_weights(args.checkpoint, shape)

    # 1. greedy decoding of the numpy reference reproduces the published text
    greedy_ids = greedy_reference(w, shape, tok, len(PUBLISHED_GREEDY))
    greedy_text = tok.decode(greedy_ids)
    checks("numpy reference: greedy from <s> gives the published text", greedy_text.startswith(PUBLISHED_GREEDY),
           f"{len(greedy_ids) - 1} tokens: {greedy_text[:60]!r}…")

    # 2. the torch model (rotate-half, permuted wq/wk) equals the reference
    cfg, model = build_torch_model(w, shape)
    prompts = [tok.encode(s) for s in TOKENIZER_SAMPLES[:2]] + [greedy_ids]
    ref_logits = [reference_forward(w, shape, ids) for ids in prompts]
    worst = 0.0
    with torch.no_grad():
        for ids, ref in zip(prompts, ref_logits):
            got = model.forward_train(torch.tensor([ids]))[0].numpy()
            worst = max(worst, float(np.abs(got - ref).max()))
    checks("torch model == numpy reference logits", worst <= TOL, f"max |diff| {worst:.2e} over {sum(map(len, prompts))} positions")

    # 3. write the folder
    out = args.out
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    tokenizer, tok_config, special_map = hf_tokenizer_files(pieces, scores)
    tok_config["model_max_length"] = shape["seq_len"]
    write_json(os.path.join(out, "tokenizer.json"), tokenizer)
    write_json(os.path.join(out, "tokenizer_config.json"), tok_config)
    write_json(os.path.join(out, "special_tokens_map.json"), special_map)
    write_json(os.path.join(out, "config.json"), {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": cfg.dim,
        "intermediate_size": cfg.hidden_dim,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_kv_heads,
        "head_dim": cfg.head_dim,
        "hidden_act": "silu",
        "vocab_size": cfg.vocab_size,
        "max_position_embeddings": cfg.max_position_embeddings,
        "rms_norm_eps": cfg.rms_norm_eps,
        "rope_theta": cfg.rope_theta,
        "rope_scaling": None,
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": True,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float32",
        "use_cache": True,
    })
    write_json(os.path.join(out, "generation_config.json"), {"bos_token_id": 1, "eos_token_id": 2})
    if os.path.exists(args.license):
        shutil.copyfile(args.license, os.path.join(out, "LICENSE"))
    else:
        checks("licence file found", False, f"{args.license} missing; the MIT licence must ship with the weights")

    export04 = load_export_module()
    onnx_path = os.path.join(out, "onnx", "model.onnx")
    export04.export_decoder_onnx(model, cfg, onnx_path)
    m = onnx.load(onnx_path)
    export04.dedupe_tied_embedding(m, model)
    onnx.save(m, onnx_path)
    onnx.checker.check_model(onnx_path)
    m = onnx.load(onnx_path)
    ops = [n.op_type for n in m.graph.node]
    fused = sorted({n.op_type for n in m.graph.node if n.domain not in ("", "ai.onnx")})
    checks("ONNX graph: one Softmax per layer, standard ops only", ops.count("Softmax") == cfg.n_layers and not fused,
           f"{ops.count('Softmax')} Softmax, {cfg.n_layers} layers, {len(ops)} nodes{', fused: ' + ','.join(fused) if fused else ''}")

    # 4. the ONNX file and tokenizer.json, as the project's runtime sees them (onnxruntime-node, transformers.js)
    os.makedirs(BUILD, exist_ok=True)
    ref_path = os.path.join(BUILD, "reference.json")
    write_json(ref_path, {
        "published": PUBLISHED_GREEDY,
        "greedy_ids": greedy_ids,
        "prompts": [{"ids": ids, "logits": np.round(ref, 7).tolist()} for ids, ref in zip(prompts, ref_logits)],
        "tokenizer": [{"text": s, "ids": tok.encode(s)} for s in TOKENIZER_SAMPLES],
        "tolerance": TOL,
    })
    r = subprocess.run(["node", os.path.join(HERE, "check-onnx.mjs"), out, ref_path], cwd=ROOT,
                       capture_output=True, text=True)
    node_lines = [l for l in r.stdout.splitlines() if l.startswith(("PASS", "FAIL"))]
    for l in node_lines:
        print(l, flush=True)
        checks.lines.append(l)
        checks.failed += l.startswith("FAIL")
    if r.returncode != 0 and not any(l.startswith("FAIL") for l in node_lines):
        checks("onnxruntime-node check ran", False, (r.stderr.strip().splitlines() or ["no output"])[-1])

    write_model_card(out, args, shape, model.n_params(), checks.lines, greedy_text)
    print(f"{'PASS' if checks.failed == 0 else 'FAIL'}: {out} ({checks.failed} failed check(s))")
    sys.exit(1 if checks.failed else 0)


def write_model_card(out, args, shape, n_params, lines, greedy_text):
    files = sorted(os.path.relpath(os.path.join(dp, f), out) for dp, _, fs in os.walk(out) for f in fs
                   if f not in ("README.md",) and not f.endswith((".taps.onnx", ".taps.json")) and f != "entropix.thresholds.json")
    size = sum(os.path.getsize(os.path.join(out, f)) for f in files)
    check_lines = "\n".join(f"    {l}" for l in lines)
    card = f"""# stories260k

A 260K-parameter Llama-architecture model trained on [TinyStories](https://huggingface.co/datasets/roneneldan/TinyStories)
by Andrej Karpathy for [llama2.c](https://github.com/karpathy/llama2.c) (the `stories260K` model of
its "tinyllamas" set). It writes short, simple children's stories, and its greedy decoding soon
repeats itself, which makes it entropix's `--compare greedy` demo model.

## Source and licence

- Weights and tokenizer: llama2.c's `stories260K.bin` and `tok512.bin` (legacy version 0 format).
  MIT licence ("Copyright (c) 2023 Andrej"): see [LICENSE](LICENSE), shipped unchanged.
- sha256 of the inputs:
  - `{os.path.basename(args.checkpoint)}`: `{sha256(args.checkpoint)}`
  - `{os.path.basename(args.tokenizer)}`: `{sha256(args.tokenizer)}`
- Converted by this project's `scripts/convert-llama2c/convert.py`; the conversion itself adds no
  training or data.

## Architecture

`LlamaForCausalLM`: {n_params:,} parameters; hidden {shape['dim']}, {shape['n_layers']} layers, {shape['n_heads']} query heads and
{shape['n_kv_heads']} KV heads (grouped-query attention, head dim {shape['dim'] // shape['n_heads']}), SwiGLU MLP {shape['hidden_dim']}, RMSNorm (ε 1e-5), rotary
embeddings (θ 10000), tied input/output embeddings, vocabulary {shape['vocab_size']} (SentencePiece BPE with byte
fallback: ids 0/1/2 are `<unk>`/`<s>`/`</s>`, ids 3–258 are the bytes `<0x00>`–`<0xFF>`), context {shape['seq_len']}.

## Files (Hugging Face ONNX layout, {size / 1e6:.2f} MB)

| File | |
|---|---|
| `config.json`, `generation_config.json` | Llama config; bos 1, eos 2 |
| `tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json` | Llama-style BPE with byte fallback; loads offline in `@huggingface/transformers` as `LlamaTokenizer` and adds `<s>` |
| `onnx/model.onnx` | fp32, opset 14; inputs `input_ids`, `attention_mask`, `position_ids`, `past_key_values.{{i}}.key/value`; outputs `logits`, `present.{{i}}.key/value`; plain attention (one Softmax per layer, so entropix taps every layer) |
| `LICENSE` | llama2.c's MIT licence |
| `entropix.thresholds.json` | Entropix thresholds calibrated for this model (not written by the converter; see below) |

## How it was converted

1. The checkpoint's header (7 int32: dim, hidden, layers, heads, KV heads, vocab, context) and size
   are checked; a file that is not a legacy llama2.c checkpoint is refused in one line.
2. The float32 weights are loaded into `scripts/model/model.py` (the project's Llama module), whose
   `forward_cached` is exported with `scripts/model/04-export.py`'s `export_decoder_onnx()`.
   llama2.c rotates interleaved pairs `(x[2i], x[2i+1])`; Hugging Face's Llama rotates halves
   `(x[i], x[i+d/2])`. Permuting each head's rows of `wq` and `wk` to `[0, 2, 4, …, 1, 3, 5, …]`
   turns one into the other and leaves every attention score unchanged.
3. The tokenizer's pieces become a BPE vocabulary (`▁` for a space); every split of a piece into two
   pieces is a merge, ranked by the merged piece's score, which is the order in which llama2.c's
   encoder applies them.

Reproduce with:

    /usr/bin/python3 scripts/convert-llama2c/convert.py --out models/stories260k

## Checks (output of the conversion)

The script compares against a forward pass written in it in numpy with llama2.c's own semantics
(interleaved rotary pairs, run.c's operations) and against llama2.c's encoder:

{check_lines}

Greedy decoding from `<s>` through the ONNX file (the same text as llama2.c's published temperature-0 output):

> {greedy_text}

## Calibrated thresholds

`entropix.thresholds.json` is not written by the converter; it was made afterwards with

    npx entropix calibrate --model stories260k --corpus data/stories260k-calibration.txt

No TinyStories text is available offline, so the calibration corpus is the model's own text: twelve
samples of up to 256 tokens at temperature 1 with no top-k/top-p/min-p (`data/README.md` gives the
command), i.e. text drawn from the model's own distribution. The thresholds (bits) moved from the
reference profile's low/medium/high entropy 0.1 / 3.0 / 5.0 and low/high varentropy 0.1 / 5.0 to
about 0.03 / 2.6 / 4.2 and 0.3 / 5.7 (the exact numbers are in the file); the default sampler
ranks each step's entropy and varentropy against the file's `meta.statistics` instead of a scale
guessed from the vocabulary size, and runs at the base temperature ("heat") that `calibrate` chose
from generations on prompts cut from the corpus (`temperature` and `meta.heat` in the file).
"""
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write(card)


if __name__ == "__main__":
    main()
