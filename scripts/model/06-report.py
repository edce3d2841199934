#!/usr/bin/python3
"""Stage 6: loss curve + training summary for the model README.

    /usr/bin/python3 scripts/model/06-report.py [--log build/model/train.log] [--baseline build/model/baseline.json]
        [--init-note "..."]

--baseline is the JSON line 03-train.py --eval-only printed for the previous model (its per-source
held-out numbers become the "old" column); --init-note says what the run started from.

Reads build/model/train.log (JSON lines from 03-train.py), build/model/data/{stats,tokens}.json and
the exported config, writes models/tiny-stdlib-llama/loss.svg (hand-written SVG, no matplotlib) and
replaces the block between `<!-- training-summary:begin -->` and `<!-- training-summary:end -->` in
models/tiny-stdlib-llama/README.md. Nothing else in the README is touched.
"""
import argparse
import json
import math
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "build", "model")
MODEL = os.path.join(ROOT, "models", "tiny-stdlib-llama")


def read_log(path):
    train, evals, resched = [], [], []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            {"train": train, "eval": evals, "reschedule": resched}.get(r["kind"], []).append(r)
    # a resumed run may re-log steps after the last checkpoint: keep the last record per step
    dedupe = lambda rs: sorted({r["step"]: r for r in rs}.values(), key=lambda r: r["step"])
    train, evals = dedupe(train), dedupe(evals)
    if evals:
        # train records past the final evaluation are work a killed run did after its last checkpoint,
        # which the resumed run redid or dropped: not part of the model
        train = [r for r in train if r["step"] <= evals[-1]["step"]]
    return train, evals, resched


def svg(train, evals, out):
    W, H = 760, 420
    ml, mr, mt, mb = 70, 70, 40, 55
    pw, ph = W - ml - mr, H - mt - mb
    xs = [r["tokens"] / 1e6 for r in train] + [r["tokens"] / 1e6 for r in evals]
    xmax = max(xs) if xs else 1.0
    # smooth the train loss a little (mean over 5 log points)
    tl = [r["loss"] for r in train]
    sm = [sum(tl[max(0, i - 4) : i + 1]) / len(tl[max(0, i - 4) : i + 1]) for i in range(len(tl))]
    ys = sm + [e["heldout_loss"] for e in evals]
    ymin = math.floor(min(ys) * 2) / 2 if ys else 0
    ymax = min(8.5, math.ceil(max(ys) * 2) / 2) if ys else 1
    X = lambda v: ml + pw * v / xmax
    Y = lambda v: mt + ph * (1 - (min(v, ymax) - ymin) / (ymax - ymin))
    # bits/byte axis on the right: bpb = nats_per_token / ln2 / bytes_per_token
    bpt = None
    if evals:
        e = evals[-1]
        bpt = e["heldout_loss"] / math.log(2) / e["heldout_bpb"]
    p = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>']
    # grid + axes
    step = 0.5 if ymax - ymin <= 5 else 1.0
    v = ymin
    while v <= ymax + 1e-9:
        p.append(f'<line x1="{ml}" y1="{Y(v):.1f}" x2="{ml+pw}" y2="{Y(v):.1f}" stroke="#e5e5e5"/>')
        p.append(f'<text x="{ml-8}" y="{Y(v)+4:.1f}" text-anchor="end">{v:.1f}</text>')
        if bpt:
            p.append(f'<text x="{ml+pw+8}" y="{Y(v)+4:.1f}" fill="#c0392b">{v/math.log(2)/bpt:.2f}</text>')
        v += step
    nt = 6
    tick = max(0.5, round(xmax / nt * 2) / 2)
    t = 0.0
    while t <= xmax + 1e-9:
        p.append(f'<line x1="{X(t):.1f}" y1="{mt}" x2="{X(t):.1f}" y2="{mt+ph}" stroke="#f0f0f0"/>')
        p.append(f'<text x="{X(t):.1f}" y="{mt+ph+18}" text-anchor="middle">{t:g}</text>')
        t += tick
    p.append(f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    p.append(f'<text x="{ml+pw/2}" y="{H-12}" text-anchor="middle">training tokens (millions)</text>')
    p.append(f'<text transform="translate(18,{mt+ph/2}) rotate(-90)" text-anchor="middle">loss (nats / token)</text>')
    if bpt:
        p.append(f'<text transform="translate({W-14},{mt+ph/2}) rotate(90)" text-anchor="middle" fill="#c0392b">held-out bits / byte</text>')
    if train:
        pts = " ".join(f"{X(r['tokens']/1e6):.1f},{Y(s):.1f}" for r, s in zip(train, sm))
        p.append(f'<polyline points="{pts}" fill="none" stroke="#2c7fb8" stroke-width="1.5"/>')
    if evals:
        pts = " ".join(f"{X(e['tokens']/1e6):.1f},{Y(e['heldout_loss']):.1f}" for e in evals)
        p.append(f'<polyline points="{pts}" fill="none" stroke="#c0392b" stroke-width="2"/>')
        for e in evals:
            p.append(f'<circle cx="{X(e["tokens"]/1e6):.1f}" cy="{Y(e["heldout_loss"]):.1f}" r="3" fill="#c0392b"/>')
        title = f"tiny-stdlib-llama: final held-out {evals[-1]['heldout_bpb']:.3f} bits/byte at step {evals[-1]['step']}"
    else:
        title = "tiny-stdlib-llama"
    p.append(f'<text x="{ml}" y="24" font-size="14" font-weight="bold">{title}</text>')
    p.append(f'<line x1="{ml+pw-210}" y1="{mt+18}" x2="{ml+pw-185}" y2="{mt+18}" stroke="#2c7fb8" stroke-width="2"/>'
             f'<text x="{ml+pw-180}" y="{mt+22}">train loss (smoothed)</text>')
    p.append(f'<line x1="{ml+pw-210}" y1="{mt+36}" x2="{ml+pw-185}" y2="{mt+36}" stroke="#c0392b" stroke-width="2"/>'
             f'<text x="{ml+pw-180}" y="{mt+40}">held-out loss</text>')
    p.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(p) + "\n")


def source_table(stats, last_e, base):
    """Markdown rows: held-out bits/byte per source and set, old (baseline) and new."""
    books = {b["id"].replace("/", "-"): b for b in stats["sources"].get("gutenberg", {}).get("books", [])}
    new = last_e.get("sources", {})
    old = (base or {}).get("sources", {})
    f = lambda d, k: f"{d[k]:.3f}" if k in d else "–"
    rows = ["| Held-out set | Source (held-out part) | Bytes | Old model | This model |", "|---|---|---|---|---|"]
    label = {"moby-dick": "Moby-Dick (chapters 134, 135, epilogue)", "sotu": "State of the Union (2013–2021 addresses)"}
    for set_name, files in stats.get("heldout_sets", {}).items():
        for fn in files:
            k = fn[len("heldout."):-4]
            b = books.get(k)
            name = f"*{b['title'].split(' (')[0]}* ({b['heldout']})" if b else label.get(k, k)
            nbytes = b["heldout_bytes"] if b else stats["sources"][k]["heldout_bytes"]
            rows.append(f"| {set_name} | {name} | {nbytes:,} | {f(old, k)} | {f(new, k)} |")
        tot = f"{set_name}_bpb"
        o = f"{base[tot]:.3f}" if base and tot in base else "–"
        n = f"{last_e[tot]:.3f}" if tot in last_e else "–"
        rows.append(f"| **{set_name}** | **all of the set** (total nats / total bytes of its per-source texts) | | **{o}** | **{n}** |")
    return "\n".join(rows)


def mix_text(mix, toks):
    """'moby-dick 20%, sotu 35%, ...': the run's --mix when given, else tokens.json's weights."""
    if mix:
        w = {k: float(v) for k, v in (kv.split("=") for kv in mix.split(","))}
        total = sum(w.values())
        return ", ".join(f"{k} {v / total:.0%}" for k, v in w.items())
    return ", ".join(f"{s['source']} {s['weight']:.0%}" for s in toks.get("train_sources", []) if s.get("weight") is not None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", default=os.path.join(BUILD, "train.log"))
    ap.add_argument("--baseline", default=os.path.join(BUILD, "baseline.json"))
    ap.add_argument("--init-note", default=None)
    ap.add_argument("--mix", default=None, help="the 'name=w,...' the run passed to 03-train.py --mix (default: data/tokens.json's weights)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads the run used (for the table)")
    ap.add_argument("--nice", type=int, default=10, help="nice level the run used (for the table)")
    args = ap.parse_args()
    train, evals, resched = read_log(args.log)
    base = None
    if os.path.exists(args.baseline):
        base = json.load(open(args.baseline))
    svg(train, evals, os.path.join(MODEL, "loss.svg"))
    cfg = json.load(open(os.path.join(MODEL, "config.json")))
    stats = json.load(open(os.path.join(BUILD, "data", "stats.json")))
    toks = json.load(open(os.path.join(BUILD, "data", "tokens.json")))
    onnx_mb = os.path.getsize(os.path.join(MODEL, "onnx", "model.onnx")) / 1e6
    last_t = train[-1] if train else {}
    last_e = evals[-1] if evals else {}
    best_e = min(evals, key=lambda e: e["heldout_bpb"]) if evals else {}
    d, f, Lr, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    H, KV, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    n_params = V * d + Lr * (d * H * hd + 2 * d * KV * hd + H * hd * d + 3 * d * f + 2 * d) + d
    secs = last_t.get("elapsed_s", 0)
    hms = lambda r: sum(int(x) * m for x, m in zip(r["time"].split(":"), (3600, 60, 1)))
    # wall clock of this run: its train records and later evaluations (a step-0 evaluation of the
    # starting weights may have been made separately, before the run)
    allr = sorted(train + [e for e in evals if e["step"] > 0], key=lambda r: r["step"])
    wall = (hms(allr[-1]) - hms(allr[0])) % 86400 + (allr[0]["elapsed_s"] if allr else 0) if allr else 0
    cpu = "x86-64 CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    summary = {
        "parameters": n_params,
        "onnx_mb": round(onnx_mb, 2),
        "steps": last_t.get("step"),
        "tokens_seen": last_t.get("tokens"),
        "epochs": round(last_t.get("tokens", 0) / toks["train"]["tokens"], 2),
        "train_compute_s": secs,
        "wall_s": wall,
        "tok_per_s": round(last_t.get("tokens", 0) / wall, 1) if wall else None,
        "final_heldout_bpb": last_e.get("heldout_bpb"),
        "final_sources": last_e.get("sources"),
        "final_v1_bpb": last_e.get("v1_bpb"),
        "final_fiction_bpb": last_e.get("fiction_bpb"),
        "baseline": base,
        "final_heldout_loss": last_e.get("heldout_loss"),
        "best_heldout_bpb": best_e.get("heldout_bpb"),
        "reschedules": resched,
    }
    json.dump(summary, open(os.path.join(BUILD, "summary.json"), "w"), indent=2)
    print(json.dumps(summary, indent=2))
    block = f"""<!-- training-summary:begin (generated by scripts/model/06-report.py; do not edit by hand) -->
| | |
|---|---|
| Parameters | {n_params:,} ({onnx_mb:.1f} MB fp32 ONNX; embeddings tied) |
| Layers / hidden / MLP | {Lr} / {d} / {f} (SwiGLU) |
| Attention | {H} query heads × {hd}, {KV} key/value heads (GQA), RoPE θ={cfg['rope_theta']:g} |
| Vocabulary / context | {V} byte-level BPE / {cfg['max_position_embeddings']} (trained on 256-token windows, the last 15 % of steps on 512-token windows) |
{f"| Started from | {args.init_note} |" + chr(10) if args.init_note else ""}| Training steps × batch | {last_t.get('step')} × 16 × 256 tokens (this run) |
| Tokens seen | {last_t.get('tokens', 0)/1e6:.2f} M in this run ({summary['epochs']} epochs of {toks['train']['tokens']/1e6:.2f} M training tokens, sampled per source: {mix_text(args.mix, toks)}) |
| Training time | {secs/3600:.2f} h in training steps, {wall/3600:.2f} h wall clock including evaluations and restarts ({summary['tok_per_s']} tokens/s overall), on a 2-core {cpu} shared with other work (PyTorch 1.13 CPU, {args.threads} thread{'s' if args.threads > 1 else ''}, fp32, `nice {args.nice}`) |
| Held-out loss (v1 set) | {last_e.get('heldout_loss')} nats/token |
| **Held-out bits per byte (v1 set)** | **{last_e.get('heldout_bpb')}** (total nats over all {last_e.get('heldout_tokens')} v1 held-out tokens / ln 2 / {stats['heldout_bytes']:,} UTF-8 bytes; the previous model: {base['heldout_bpb'] if base else '–'}) |

held-out bits per byte (v1 held-out set): {last_e.get('heldout_bpb', float('nan')):.3f}

held-out bits per byte (fiction held-out set): {last_e.get('fiction_bpb', float('nan')):.3f}

Per source (bits per byte; each held-out text evaluated on its own in 256-token windows, so the
per-source numbers of the v1 set combine to a slightly different total than the single-stream figure
above; "old model" is the previously shipped model evaluated the same way):

{source_table(stats, last_e, base)}

![loss curve](loss.svg)
<!-- training-summary:end -->"""
    readme = os.path.join(MODEL, "README.md")
    if os.path.exists(readme):
        txt = open(readme, encoding="utf-8").read()
        new, n = re.subn(r"<!-- training-summary:begin.*?<!-- training-summary:end -->", lambda m: block, txt, flags=re.S)
        if n != 1:
            sys.exit("README.md has no training-summary block")
        open(readme, "w", encoding="utf-8").write(new)
        print(f"updated {readme}")


if __name__ == "__main__":
    main()
