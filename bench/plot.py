#!/usr/bin/env python3
"""Bar chart of ms per denoiser step, per model file x engine, from bench/compare --json files.

usage: .venv/bin/python bench/plot.py OUT.png COMPARE.json [COMPARE.json ...] [--title TEXT]

Each JSON is what `bench/compare ... --json FILE` writes: {"args": ..., "results": {model path:
{"llama.cpp": [runs], "dgemma": [runs]}}}; a run's "step_s" is the turn's wall time divided by
the steps (llama.cpp's definition). Bars are the median over repetitions, the tick on each bar is
the minimum; a model appearing in several files pools their repetitions. Groups are ordered by
file name (L2 before L6, q4_k_m before q8_0), engines are colored consistently, and each dgemma
bar is labeled with dgemma / llama.cpp of the medians.
"""
import argparse, json, os, statistics, sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ENGINES = ("llama.cpp", "dgemma")
COLORS = {"llama.cpp": "#7f7f7f", "dgemma": "#1f77b4"}


def load(paths):
    """{model file name: {engine: [ms/step, ...]}} pooled over the input files, plus the args seen."""
    pooled, seen = {}, []
    for p in paths:
        with open(p) as f:
            doc = json.load(f)
        seen.append(doc.get("args", {}))
        for model, runs in doc["results"].items():
            slot = pooled.setdefault(os.path.basename(model), {e: [] for e in ENGINES})
            for e in ENGINES:
                slot[e].extend(r["step_s"] * 1e3 for r in runs.get(e, []))
    return pooled, seen


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--title", default=None)
    a = ap.parse_args()
    data, seen = load(a.inputs)
    if not data:
        sys.exit("plot: no results in the input files")
    models = sorted(data)
    fig, ax = plt.subplots(figsize=(max(7, 1.8 * len(models) + 2), 4.8))
    width = 0.38
    for i, eng in enumerate(ENGINES):
        for j, m in enumerate(models):
            v = data[m][eng]
            if not v:
                continue
            x = j + (i - 0.5) * width
            med = statistics.median(v)
            ax.bar(x, med, width, color=COLORS[eng], label=eng if j == 0 else None)
            ax.plot([x - width / 3, x + width / 3], [min(v)] * 2, color="black", lw=1)
            label = f"{med / 1e3:.1f} s"
            other = data[m]["llama.cpp"]
            if eng == "dgemma" and other:
                label += f"\n{med / statistics.median(other):.2f}x"
            ax.annotate(label, (x, med), ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
            print(f"{m} {eng}: median {med:.0f} ms/step, min {min(v):.0f}, n={len(v)}")
    ax.set_xticks(range(len(models)))
    ax.set_xticklabels([m.removesuffix(".gguf") for m in models])
    ax.set_ylabel("ms per denoiser step (turn / steps)")
    threads = sorted({s.get("threads") for s in seen if s.get("threads")})
    steps = sorted({s.get("steps") for s in seen if s.get("steps")})
    ax.set_title(a.title or f"DiffusionGemma step time, canvas 256, -t {','.join(map(str, threads))}, "
                            f"{','.join(map(str, steps))} steps\n(bar: median, tick: min of the repetitions)", fontsize=10)
    ax.legend()
    ax.set_ylim(0, ax.get_ylim()[1] * 1.15)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
