#!/usr/bin/python3
"""Stage 3: train the tiny Llama on the token streams from stage 2 (CPU, resumable).

    nohup nice -n 10 /usr/bin/python3 scripts/model/03-train.py --steps N > build/model/train.out 2>&1 &

Re-running the same command resumes from build/model/ckpt.pt (model + optimizer + step + RNG states);
the model/optimisation settings stored in the checkpoint win over the command line, except --steps
(total schedule length) and --threads.  `--bench K` times K training steps of the configured model
and exits without writing anything.

--init PATH starts a new run from the weights in PATH ({"config", "model"}, e.g. written by
onnx-to-ckpt.py from the shipped model) instead of a random initialisation; the shape flags are then
taken from that file.  --eval-only prints the held-out numbers of the loaded weights (checkpoint or
--init) and exits.

Training windows are sampled per source with the weights in data/tokens.json (from 01-data's mix;
--mix "name=w,..." overrides), uniformly within each source's token range.

Log lines (build/model/train.log, appended) are JSON objects:
  {"kind":"train","step":..,"loss":..,"lr":..,"tokens":..,"elapsed_s":..,"tok_per_s":..}
  {"kind":"eval","step":..,"heldout_loss":..,"heldout_bpb":..,"tokens":..,"elapsed_s":..}
heldout_bpb = total nats over all held-out tokens / ln 2 / UTF-8 bytes of heldout.txt (the v1 held-out set).
Every --source-eval-every-th evaluation (and the last) adds "sources": {name: bits/byte} for each
data/heldout.<name>.bin on its own, "v1_bpb"/"fiction_bpb" over the per-source streams of each set
(total nats / ln 2 / total bytes; stats.json heldout_sets) .
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, LlamaLM  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "build", "model")


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(BUILD, "data"))
    ap.add_argument("--ckpt", default=os.path.join(BUILD, "ckpt.pt"))
    ap.add_argument("--log", default=os.path.join(BUILD, "train.log"))
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--head-dim", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=704)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--block", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--long-block", type=int, default=512,
                    help="window length for the last --long-frac of the schedule (same tokens per step), so positions up to the full context are trained")
    ap.add_argument("--long-frac", type=float, default=0.15)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=150)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--steps", type=int, default=None, help="total schedule length (default 3000; on resume: the checkpoint's)")
    ap.add_argument("--deadline", default=None,
                    help="UTC 'YYYY-mm-ddTHH:MM': if the projected finish is later, shorten the cosine schedule to fit")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ckpt-every-s", type=float, default=300)
    ap.add_argument("--eval-every", type=int, default=250, help="steps between held-out evaluations")
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--bench", type=int, default=0)
    ap.add_argument("--init", default=None, help="start from these weights (a {config, model} .pt) instead of random ones")
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--mix", default=None, help="source sampling weights 'name=w,...' (default: data/tokens.json)")
    ap.add_argument("--source-eval-every", type=int, default=2, help="per-source held-out numbers every N-th evaluation (0: never)")
    ap.add_argument("--no-final-eval", action="store_true",
                    help="skip the evaluation at the end (on a loaded machine: run --eval-only on the checkpoint instead, at a kinder priority)")
    return ap.parse_args()


def lr_at(step, a):
    if step < a["warmup"]:
        return a["lr"] * (step + 1) / a["warmup"]
    prog = min(1.0, (step - a["warmup"]) / max(1, a["steps"] - a["warmup"]))
    lo = a["lr"] * a["min_lr_frac"]
    return lo + 0.5 * (a["lr"] - lo) * (1 + math.cos(math.pi * prog))


@torch.no_grad()
def evaluate(model, heldout, block, nbytes, batch=16):
    """Sum of next-token NLL over every held-out token after the first, windows of block+1 with stride block."""
    model.eval()
    n = len(heldout)
    starts = list(range(0, n - 1, block))
    total = 0.0
    count = 0
    for i in range(0, len(starts), batch):
        chunk = starts[i : i + batch]
        L = min(block + 1, n - chunk[-1])  # the last window may be shorter; group equal lengths
        groups = {}
        for s in chunk:
            ln = min(block + 1, n - s)
            groups.setdefault(ln, []).append(s)
        for ln, ss in groups.items():
            x = torch.from_numpy(np.stack([heldout[s : s + ln].astype(np.int64) for s in ss]))
            logits = model.forward_train(x[:, :-1])
            nll = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="sum"
            )
            total += float(nll)
            count += x[:, 1:].numel()
        del L
    model.train()
    return total / count, total / math.log(2) / nbytes, count


def train_sources(a, n_train):
    """[(source range)], sampling probabilities: from tokens.json's train_sources (weights from the data
    mix or --mix); a data folder without them is one source sampled uniformly."""
    path = os.path.join(a["data"], "tokens.json")
    srcs = None
    if os.path.exists(path):
        with open(path) as f:
            srcs = json.load(f).get("train_sources")
    if not srcs:
        return [{"source": "all", "start": 0, "end": n_train}], np.ones(1)
    w = {s["source"]: s.get("weight") or 0.0 for s in srcs}
    if a.get("mix"):
        for kv in a["mix"].split(","):
            k, v = kv.split("=")
            if k not in w:
                sys.exit(f"--mix: unknown source {k!r} (known: {', '.join(w)})")
            w[k] = float(v)
    p = np.array([w[s["source"]] for s in srcs], dtype=np.float64)
    if p.sum() <= 0:
        p = np.array([s["end"] - s["start"] for s in srcs], dtype=np.float64)
    return srcs, p / p.sum()


def heldout_sets(data):
    """{set: [(name, ids, bytes)]} from stats.json's heldout_sets (empty for older data folders)."""
    path = os.path.join(data, "stats.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        sets = json.load(f).get("heldout_sets", {})
    out = {}
    for set_name, files in sets.items():
        out[set_name] = []
        for fn in files:
            base = os.path.join(data, fn[:-4])
            if os.path.exists(base + ".bin"):
                name = fn[len("heldout."):-4]
                out[set_name].append((name, np.fromfile(base + ".bin", dtype=np.uint16), os.path.getsize(base + ".txt")))
    return out


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def log(path, rec):
    line = json.dumps(rec)
    with open(path, "a") as f:
        f.write(line + "\n")
    print(line, flush=True)


def main():
    args = parse()
    torch.set_num_threads(args.threads)
    a = vars(args).copy()
    resume = os.path.exists(args.ckpt) and not args.bench
    ck = None
    if resume:
        ck = torch.load(args.ckpt, map_location="cpu")
        keep = {k: a[k] for k in ("threads", "ckpt", "log", "data", "ckpt_every_s", "eval_every", "log_every", "bench", "deadline",
                                  "eval_only", "no_final_eval", "source_eval_every")}
        # --steps on the command line wins only when it changes the plan; otherwise the checkpoint's
        # (possibly deadline-shortened) schedule is kept, so re-running the same command resumes it.
        if a["steps"] is not None and a["steps"] != ck["args"].get("planned_steps", ck["args"]["steps"]):
            keep["steps"] = a["steps"]
            keep["planned_steps"] = a["steps"]
        a.update(ck["args"])
        a.update(keep)
        if ck["step"] >= a["steps"] and not a["eval_only"]:
            print(f"checkpoint already at step {ck['step']} >= {a['steps']}; nothing to do")
            return
    if a["steps"] is None:
        a["steps"] = 3000
    a.setdefault("planned_steps", a["steps"])
    if a.get("planned_steps") is None:
        a["planned_steps"] = a["steps"]
    deadline = None
    if a["deadline"]:
        import calendar
        deadline = calendar.timegm(time.strptime(a["deadline"], "%Y-%m-%dT%H:%M"))
    init = None
    if a.get("init") and ck is None:
        init = torch.load(a["init"], map_location="cpu")
        ic = init["config"]
        a.update(vocab=ic["vocab_size"], dim=ic["dim"], layers=ic["n_layers"], heads=ic["n_heads"],
                 kv_heads=ic["n_kv_heads"], head_dim=ic["head_dim"], hidden=ic["hidden_dim"])
    cfg = Config(
        vocab_size=a["vocab"], dim=a["dim"], n_layers=a["layers"], n_heads=a["heads"], n_kv_heads=a["kv_heads"],
        head_dim=a["head_dim"], hidden_dim=a["hidden"],
    )
    random.seed(a["seed"])
    np.random.seed(a["seed"])
    torch.manual_seed(a["seed"])
    rng = np.random.default_rng(a["seed"])
    model = LlamaLM(cfg)
    if init is not None:
        model.load_state_dict(init["model"])
        print(f"initialised from {a['init']}", flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": a["wd"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=a["lr"], betas=(0.9, 0.95), eps=1e-8,
    )
    train = np.fromfile(os.path.join(a["data"], "train.bin"), dtype=np.uint16)
    heldout = np.fromfile(os.path.join(a["data"], "heldout.bin"), dtype=np.uint16)
    heldout_bytes = os.path.getsize(os.path.join(a["data"], "heldout.txt"))
    sources, weights = train_sources(a, len(train))
    held_sets = heldout_sets(a["data"])
    step = 0
    tokens = 0
    elapsed = 0.0
    if ck is not None:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step, tokens, elapsed = ck["step"], ck["tokens"], ck["elapsed_s"]
        torch.set_rng_state(ck["rng"]["torch"])
        np.random.set_state(ck["rng"]["numpy"])
        random.setstate(ck["rng"]["python"])
        rng.bit_generator.state = ck["rng"]["sampler"]
        print(f"resumed from {args.ckpt} at step {step} ({tokens} tokens, {elapsed:.0f}s)", flush=True)
    else:
        print(f"config {json.dumps(cfg.to_dict())} params {model.n_params()}", flush=True)
        print(f"train tokens {len(train)} heldout tokens {len(heldout)} heldout bytes {heldout_bytes}", flush=True)
    B, T = a["batch"], a["block"]
    print("mix " + json.dumps({s["source"]: round(float(w), 4) for s, w in zip(sources, weights)}), flush=True)

    def full_eval(with_sources):
        te = time.time()
        hl, bpb, n = evaluate(model, heldout, T, heldout_bytes)
        rec = {"kind": "eval", "step": step, "heldout_loss": round(hl, 5), "heldout_bpb": round(bpb, 5),
               "heldout_tokens": n, "tokens": tokens, "elapsed_s": round(elapsed, 1)}
        if with_sources:
            per = {}
            for set_name, files in held_sets.items():
                nats = nbytes = 0.0
                for name, ids, b in files:
                    l, _, c = evaluate(model, ids, T, 1)
                    per[name] = round(l * c / math.log(2) / b, 5)
                    nats += l * c
                    nbytes += b
                rec[f"{set_name}_bpb"] = round(nats / math.log(2) / nbytes, 5)
            rec["sources"] = per
        rec["eval_s"] = round(time.time() - te, 1)
        rec["time"] = time.strftime("%H:%M:%S")
        return rec

    if a.get("eval_only"):
        print(json.dumps(full_eval(True)), flush=True)
        return


    def batch():
        b, t = B, T
        if a.get("long_block") and a["long_block"] > T and step >= (1 - a["long_frac"]) * a["steps"]:
            t = a["long_block"]
            b = max(1, B * T // t)
        src = rng.choice(len(sources), size=b, p=weights)
        ix = [int(rng.integers(sources[k]["start"], sources[k]["end"] - t - 1)) for k in src]
        x = torch.from_numpy(np.stack([train[i : i + t + 1].astype(np.int64) for i in ix]))
        return x[:, :-1], x[:, 1:]

    def state():
        return {
            "args": {k: v for k, v in a.items()},
            "config": cfg.to_dict(),
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "step": step,
            "tokens": tokens,
            "elapsed_s": elapsed,
            "rng": {
                "torch": torch.get_rng_state(),
                "numpy": np.random.get_state(),
                "python": random.getstate(),
                "sampler": rng.bit_generator.state,
            },
        }

    model.train()
    if args.bench:
        times = []
        for i in range(args.bench):
            t = time.time()
            x, y = batch()
            loss = torch.nn.functional.cross_entropy(model.forward_train(x).reshape(-1, cfg.vocab_size), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), a["clip"])
            opt.step()
            times.append(time.time() - t)
            print(f"bench step {i} {times[-1]:.3f}s loss {loss.item():.3f}", flush=True)
        dt = float(np.median(times[1:])) if len(times) > 1 else times[0]
        t = time.time()
        ev = evaluate(model, heldout[: 16 * T * 4], T, 1)
        print(json.dumps({"bench": True, "params": model.n_params(), "step_s": dt, "tok_per_s": B * T / dt,
                          "eval_tok_per_s": ev[2] / (time.time() - t), "onnx_mb": model.n_params() * 4 / 1e6}))
        return

    last_ckpt = time.time()
    t_log = time.time()
    window = []
    loss_acc = 0.0
    n_acc = 0
    while step < a["steps"]:
        t0 = time.time()
        lr = lr_at(step, a)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = batch()
        loss = torch.nn.functional.cross_entropy(model.forward_train(x).reshape(-1, cfg.vocab_size), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), a["clip"])
        opt.step()
        step += 1
        tokens += B * T
        elapsed += time.time() - t0
        loss_acc += loss.item()
        n_acc += 1
        if step % a["log_every"] == 0 or step == a["steps"]:
            now = time.time()
            log(args.log, {"kind": "train", "step": step, "loss": round(loss_acc / n_acc, 5), "lr": lr,
                           "grad_norm": round(float(gn), 4), "tokens": tokens, "elapsed_s": round(elapsed, 1),
                           "tok_per_s": round(n_acc * B * T / (now - t_log), 1), "time": time.strftime("%H:%M:%S")})
            t_log = now
            loss_acc, n_acc = 0.0, 0
            window.append((now, step))
            del window[:-26]
            if deadline is not None and step < a["steps"] and len(window) >= 6:
                # wall seconds per step over the last <=25 log points (includes evaluations and other
                # load); keep 5% slack plus one final evaluation.  The schedule follows the load both
                # ways: it shrinks to fit the deadline and grows back (up to the planned length) when
                # the machine frees up, so one slow patch early on does not cut the run short for good.
                per_step = (window[-1][0] - window[0][0]) / (window[-1][1] - window[0][1])
                left = deadline - now - 60
                fit = int(left / per_step * 0.95)
                # at least 10 more steps when shrinking, but never past the current schedule once
                # the deadline is near (a negative fit must end the run, not extend it)
                new_steps = max(min(a["steps"], step + 10), min(a["planned_steps"], step + fit))
                if abs(new_steps - a["steps"]) > 0.02 * a["steps"]:
                    log(args.log, {"kind": "reschedule", "step": step, "old_steps": a["steps"], "new_steps": new_steps,
                                   "sec_per_step": round(per_step, 3), "time": time.strftime("%H:%M:%S")})
                    a["steps"] = new_steps
        if step % a["eval_every"] == 0 or (step == a["steps"] and not a.get("no_final_eval")):
            te = time.time()
            k = step // a["eval_every"]
            every = a.get("source_eval_every", 0)
            log(args.log, full_eval(step == a["steps"] or (every > 0 and k % every == 0)))
            t_log += time.time() - te
        if time.time() - last_ckpt > a["ckpt_every_s"] or step == a["steps"]:
            atomic_save(state(), args.ckpt)
            last_ckpt = time.time()
            print(f"checkpoint step {step}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
