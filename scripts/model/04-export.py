#!/usr/bin/python3
"""Stage 4: export a training checkpoint to models/tiny-stdlib-llama/ in the Hugging Face ONNX layout.

    /usr/bin/python3 scripts/model/04-export.py [--ckpt build/model/ckpt.pt] [--out models/tiny-stdlib-llama]

Writes config.json, generation_config.json, tokenizer.json, tokenizer_config.json,
special_tokens_map.json and onnx/model.onnx (opset 14, fp32, unfused attention: exactly one Softmax
per layer), checks the graph with onnx.checker, and saves torch reference logits for stage 5 to
build/model/reference.json.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import numpy_helper
import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bpe import Tokenizer  # noqa: E402
from model import Config, LlamaLM  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "build", "model")

PROMPTS = [
    "Call me Ishmael.",
    "Fellow-Citizens of the Senate and House of Representatives:",
    "The whale",
    "It is my duty to report that the state of the Union is strong, and the people",
]


class OnnxWrapper(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
        self.n = model.c.n_layers

    def forward(self, input_ids, attention_mask, position_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(self.n)]
        logits, presents = self.model.forward_cached(input_ids, attention_mask, position_ids, past)
        out = [logits]
        for k, v in presents:
            out += [k, v]
        return tuple(out)


def load(ckpt_path):
    ck = torch.load(ckpt_path, map_location="cpu")
    cfg = Config(**ck["config"])
    model = LlamaLM(cfg)
    model.load_state_dict(ck["model"])
    model.eval()
    return ck, cfg, model


def export_decoder_onnx(model, cfg, onnx_path):
    """torch.onnx.export with the optimum "with past" I/O names and dynamic batch/sequence/past axes
    (shared with scripts/bench/build-smollm2-shaped.py)."""
    wrapper = OnnxWrapper(model).eval()
    L, KV, D = cfg.n_layers, cfg.n_kv_heads, cfg.head_dim
    B, P, S = 2, 3, 4  # example shapes for tracing only; every axis below is dynamic
    example = [
        torch.randint(0, cfg.vocab_size, (B, S)),
        torch.ones(B, P + S, dtype=torch.int64),
        torch.arange(P, P + S).unsqueeze(0).expand(B, S).contiguous(),
    ]
    in_names = ["input_ids", "attention_mask", "position_ids"]
    out_names = ["logits"]
    dyn = {
        "input_ids": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
        "position_ids": {0: "batch_size", 1: "sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"},
    }
    for i in range(L):
        for kind in ("key", "value"):
            example.append(torch.randn(B, KV, P, D))
            n_in, n_out = f"past_key_values.{i}.{kind}", f"present.{i}.{kind}"
            in_names.append(n_in)
            out_names.append(n_out)
            dyn[n_in] = {0: "batch_size", 2: "past_sequence_length"}
            dyn[n_out] = {0: "batch_size", 2: "total_sequence_length"}
    with torch.no_grad():
        torch.onnx.export(wrapper, tuple(example), onnx_path, input_names=in_names, output_names=out_names,
                          dynamic_axes=dyn, opset_version=14, do_constant_folding=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=os.path.join(BUILD, "ckpt.pt"))
    ap.add_argument("--tokenizer", default=os.path.join(BUILD, "tokenizer"))
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "tiny-stdlib-llama"))
    ap.add_argument("--reference", default=os.path.join(BUILD, "reference.json"))
    args = ap.parse_args()

    ck, cfg, model = load(args.ckpt)
    print(f"checkpoint step {ck['step']} tokens {ck['tokens']} params {model.n_params()}")
    os.makedirs(os.path.join(args.out, "onnx"), exist_ok=True)
    tok = Tokenizer.load(os.path.join(args.tokenizer, "tokenizer.json"))
    eot = tok.eot_id

    # --- config files ---
    config = {
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
        "bos_token_id": eot,
        "eos_token_id": eot,
        "pad_token_id": eot,
        "torch_dtype": "float32",
        "use_cache": True,
        "transformers_version": "4.46.0",
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": eot, "eos_token_id": eot, "pad_token_id": eot, "max_length": cfg.max_position_embeddings,
                   "transformers_version": "4.46.0"}, f, indent=2)
        f.write("\n")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(os.path.join(args.tokenizer, name), os.path.join(args.out, name))

    # --- ONNX ---
    onnx_path = os.path.join(args.out, "onnx", "model.onnx")
    export_decoder_onnx(model, cfg, onnx_path)
    L, KV, D = cfg.n_layers, cfg.n_kv_heads, cfg.head_dim
    m = onnx.load(onnx_path)
    dedupe_tied_embedding(m, model)
    onnx.save(m, onnx_path)
    onnx.checker.check_model(onnx_path)
    m = onnx.load(onnx_path)
    ops = [n.op_type for n in m.graph.node]
    n_soft = ops.count("Softmax")
    assert n_soft == L, f"expected {L} Softmax nodes, found {n_soft}"
    fused = {n.op_type for n in m.graph.node if n.domain not in ("", "ai.onnx")}
    assert not fused, f"non-standard ops in graph: {fused}"
    size = os.path.getsize(onnx_path)
    print(f"onnx: {onnx_path} {size/1e6:.2f} MB, {len(ops)} nodes, {n_soft} Softmax, opset "
          f"{[o.version for o in m.opset_import]}")
    assert size <= 25e6

    # --- torch reference logits for stage 5 ---
    ref = {"step": ck["step"], "prompts": []}
    with torch.no_grad():
        for p in PROMPTS:
            ids = tok.encode(p, add_bos=True)
            x = torch.tensor([ids])
            logits_train = model.forward_train(x)[0]
            past = [(torch.zeros(1, KV, 0, D), torch.zeros(1, KV, 0, D)) for _ in range(L)]
            logits_cached, _ = model.forward_cached(x, torch.ones_like(x), torch.arange(len(ids)).unsqueeze(0), past)
            diff = float((logits_train - logits_cached[0]).abs().max())
            assert diff < 1e-4, diff
            ref["prompts"].append({"text": p, "ids": ids, "logits": np.round(logits_train.numpy().astype(np.float64), 6).tolist()})
    with open(args.reference, "w") as f:
        json.dump(ref, f)
    print(f"reference logits for {len(PROMPTS)} prompts -> {args.reference}")


def dedupe_tied_embedding(m, model):
    """torch.onnx constant-folds the tied output projection into a second (transposed) copy of the
    embedding matrix. Replace that copy by a Transpose of the embedding initializer to keep one copy."""
    emb = model.embed_tokens.weight.detach().numpy()
    inits = {i.name: i for i in m.graph.initializer}
    emb_name = None
    t_name = None
    for name, init in inits.items():
        arr = numpy_helper.to_array(init)
        if arr.shape == emb.shape and np.array_equal(arr, emb):
            emb_name = emb_name or name
        elif arr.shape == emb.T.shape and np.array_equal(arr, emb.T):
            t_name = name
    if emb_name is None or t_name is None:
        return
    m.graph.initializer.remove(inits[t_name])
    node = onnx.helper.make_node("Transpose", [emb_name], [t_name], perm=[1, 0], name="tied_lm_head_transpose")
    m.graph.node.insert(0, node)
    print(f"tied embeddings: replaced initializer {t_name} by Transpose({emb_name})")


if __name__ == "__main__":
    main()
