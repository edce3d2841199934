#!/usr/bin/python3
"""Turn an exported model folder (config.json + onnx/model.onnx, as written by 04-export.py) back into a
PyTorch state dict, to continue training a shipped model whose training checkpoint is gone.

    /usr/bin/python3 scripts/model/onnx-to-ckpt.py [--model models/tiny-stdlib-llama] [--out build/model/init.pt]

Writes {"config": Config dict, "model": state_dict}; 03-train.py --init reads it.  The linear weights
are found through the MatMul node that consumes them (torch.onnx names it after the module, e.g.
/layers.0/self_attn/q_proj/MatMul) and transposed back; norms and the tied embedding keep their
parameter names.  Checking the result: 03-train.py --init ... --bench 0 --eval-only prints the held-out
numbers of the loaded weights, which must equal the model card's.
"""
import argparse
import json
import os
import sys

import onnx
import torch
from onnx import numpy_helper

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, LlamaLM  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "tiny-stdlib-llama"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "model", "init.pt"))
    a = ap.parse_args()
    with open(os.path.join(a.model, "config.json")) as f:
        hf = json.load(f)
    cfg = Config(
        vocab_size=hf["vocab_size"], dim=hf["hidden_size"], n_layers=hf["num_hidden_layers"],
        n_heads=hf["num_attention_heads"], n_kv_heads=hf["num_key_value_heads"], head_dim=hf["head_dim"],
        hidden_dim=hf["intermediate_size"], max_position_embeddings=hf["max_position_embeddings"],
        rms_norm_eps=hf["rms_norm_eps"], rope_theta=hf["rope_theta"],
    )
    m = onnx.load(os.path.join(a.model, "onnx", "model.onnx"))
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    state = {}
    for name, arr in inits.items():
        if not name.startswith("onnx::"):
            state[name.removeprefix("model.")] = torch.from_numpy(arr.copy())
    for node in m.graph.node:
        if node.op_type != "MatMul":
            continue
        for x in node.input:
            if x in inits and x.startswith("onnx::"):
                # "/layers.0/self_attn/q_proj/MatMul" -> "layers.0.self_attn.q_proj.weight"
                key = ".".join(node.name.strip("/").split("/")[:-1]) + ".weight"
                state[key] = torch.from_numpy(inits[x].T.copy())
    model = LlamaLM(cfg)
    missing, unexpected = model.load_state_dict(state, strict=False)
    # rotary.inv_freq is a non-persistent buffer, so a complete conversion leaves nothing missing
    if missing or unexpected:
        sys.exit(f"onnx-to-ckpt: could not map every weight (missing {missing}, unexpected {unexpected})")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    torch.save({"config": cfg.to_dict(), "model": model.state_dict(), "source": os.path.relpath(a.model, ROOT)}, a.out)
    print(f"wrote {a.out}: {model.n_params()} parameters from {a.model}")


if __name__ == "__main__":
    main()
