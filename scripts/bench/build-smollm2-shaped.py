#!/usr/bin/python3
"""Builds the benchmark's SmolLM2-135M-shaped Llama export (random weights) once.

    /usr/bin/python3 scripts/bench/build-smollm2-shaped.py [--out build/bench/smollm2-shaped] [--force]

Shape of HuggingFaceTB/SmolLM2-135M: hidden 576, 30 layers, 9 heads, 3 KV heads, head_dim 64,
intermediate 1536, vocab 49,152, context 2048, rope theta 100000. Weights are random (seed 0), so the
logits are near-uniform: fine for speed, meaningless as text. The model module is
scripts/model/model.py and the export wrapper is scripts/model/04-export.py's `OnnxWrapper` (same I/O
names, opset 14, plain attention: one Softmax per layer). The tied-embedding dedupe of 04-export.py
is *not* applied, so the output projection stays a separate [576, 49152] initializer, as in an untied
export: one ~650 MB fp32 file (no external data). The tokenizer is the bundled model's (vocabulary
4,096 <= 49,152; the remaining ids are never produced by the tokenizer but are valid logits).
Takes ~1-3 minutes and ~3 GB RAM on two cores.
"""
import argparse
import importlib.util
import json
import os
import shutil
import sys

import onnx
import torch

sys.dont_write_bytecode = True
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL_DIR = os.path.join(ROOT, "scripts", "model")
sys.path.insert(0, MODEL_DIR)
from model import Config, LlamaLM  # noqa: E402

spec = importlib.util.spec_from_file_location("export04", os.path.join(MODEL_DIR, "04-export.py"))
export04 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(export04)

SHAPE = Config(vocab_size=49152, dim=576, n_layers=30, n_heads=9, n_kv_heads=3, head_dim=64, hidden_dim=1536,
               max_position_embeddings=2048, rms_norm_eps=1e-5, rope_theta=100000.0)
TOKENIZER_FROM = os.path.join(ROOT, "models", "tiny-stdlib-llama")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "smollm2-shaped"))
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    onnx_path = os.path.join(args.out, "onnx", "model.onnx")
    done = os.path.join(args.out, ".complete")
    if os.path.exists(done) and os.path.exists(onnx_path) and not args.force:
        print(f"exists: {onnx_path}")
        return
    os.makedirs(os.path.join(args.out, "onnx"), exist_ok=True)
    for f in ("tokenizer.json", "special_tokens_map.json"):
        shutil.copyfile(os.path.join(TOKENIZER_FROM, f), os.path.join(args.out, f))
    with open(os.path.join(TOKENIZER_FROM, "tokenizer_config.json")) as f:
        tc = json.load(f)
    tc["model_max_length"] = SHAPE.max_position_embeddings
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump(tc, f, indent=2)
    with open(os.path.join(TOKENIZER_FROM, "generation_config.json")) as f:
        gen = json.load(f)
    eot = gen.get("eos_token_id", 0)
    c = SHAPE
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": c.dim, "intermediate_size": c.hidden_dim, "num_hidden_layers": c.n_layers,
        "num_attention_heads": c.n_heads, "num_key_value_heads": c.n_kv_heads, "head_dim": c.head_dim,
        "hidden_act": "silu", "vocab_size": c.vocab_size, "max_position_embeddings": c.max_position_embeddings,
        "rms_norm_eps": c.rms_norm_eps, "rope_theta": c.rope_theta, "rope_scaling": None,
        "attention_bias": False, "mlp_bias": False, "tie_word_embeddings": False,
        "bos_token_id": eot, "eos_token_id": eot, "pad_token_id": eot,
        "torch_dtype": "float32", "use_cache": True, "transformers_version": "4.46.0",
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": eot, "eos_token_id": eot, "pad_token_id": eot,
                   "max_length": c.max_position_embeddings, "transformers_version": "4.46.0"}, f, indent=2)
        f.write("\n")

    torch.manual_seed(0)
    model = LlamaLM(c).eval()
    print(f"params {model.n_params()} (+ {c.vocab_size * c.dim} for the separate output projection)")
    tmp = onnx_path + ".tmp"
    export04.export_decoder_onnx(model, c, tmp)
    m = onnx.load(tmp, load_external_data=False)
    n_soft = sum(1 for n in m.graph.node if n.op_type == "Softmax")
    assert n_soft == c.n_layers, f"expected {c.n_layers} Softmax nodes, found {n_soft}"
    del m
    onnx.checker.check_model(tmp)
    os.replace(tmp, onnx_path)
    with open(done, "w") as f:
        f.write("ok\n")
    print(f"onnx: {onnx_path} {os.path.getsize(onnx_path) / 1e6:.1f} MB, {n_soft} Softmax")


if __name__ == "__main__":
    main()
