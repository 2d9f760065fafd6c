#!/usr/bin/env python3
"""Group a `perf record` profile of one engine's run into the model's phases.

usage: bench/perf_groups.py PERF.data --engine llama|dgemma [--steps N] [--json OUT]

Record with a fixed task-clock period so that one sample is one ms of CPU time on any thread:

    perf record -e task-clock -c 1000000 -o PERF.data -- <engine command>

(the engine commands are the ones bench/compare runs). This script runs
`perf report --stdio --sort dso,sym -n` on the file and adds the samples of every symbol to the
first group whose pattern matches "dso symbol"; symbols matching nothing go to "other". CPU ms
per step is the group's samples divided by --steps (one-time work such as model loading is in
its own groups and should be read as a whole-run cost, not per step).
"""
import argparse, json, re, subprocess, sys

# (group, pattern over "dso symbol"); first match wins. The soft embedding runs on steps 2..N only.
GROUPS = {
    "llama": [
        ("soft embedding: F16 GEMM softmax(z)·Emb (tinyBLAS f16)", r"tinyBLAS<[^>]*unsigned short"),
        ("soft embedding: probabilities to F16", r"fp32_to_fp16"),
        ("soft embedding setup: F16 transposed token_embd copy (once)", r"dg_ensure_sc_embT"),
        ("Q8_0 GEMM (tinyBLAS: LM head, projections, dense MLP)", r"tinyBLAS_Q0"),
        ("Q8_0 vec_dot (MoE mul_mat_id, small per-expert batches)", r"vec_dot_q8_0|vec_dot_q"),
        ("activation quantization to Q8", r"quantize_row_q8"),
        ("tanh/exp/log (softcap, GELU, softmax, sampler)", r"tanhf|expm1f|logf|expf|forward_tanh|forward_glu|gelu"),
        ("attention (flash attn, soft_max)", r"flash_attn|soft_max"),
        ("sampler (entropy-bound step)", r"diffusion_generate_entropy_bound"),
        ("other ggml ops (norm, mul, add, scale, rope, get_rows, cpy)", r"libggml"),
        ("OpenMP runtime (barriers, spinning)", r"libgomp"),
        ("memcpy/memset", r"memmove|memcpy|memset"),
        ("kernel: page faults, zeroing, I/O", r"\[kernel"),
        ("model load, tokenizer, libstdc++", r"llama_vocab|Hashtable|libstdc\+\+|gguf|llama_model_load"),
    ],
    "dgemma": [
        ("soft embedding: softmax(z)·Emb (matmul_transposed)", r"transposed"),
        ("LM head + projections + dense MLP: quantized dot kernels", r"kernels::x86|kernels::scalar|dot\d*_q|matmul"),
        ("MoE experts", r"moe"),
        ("weight row decode (soft-embedding rows, get_rows)", r"dequantize"),
        ("activation quantization to Q8", r"activations|quantize_q8"),
        ("tanh/exp (softcap, GELU, softmax)", r"fast_math|tanhf|expm1f|expf|softcap|gelu|softmax"),
        ("attention (f32 dots)", r"attention|math::dot_fma"),
        ("sampler (row stats, entropy, inverse CDF)", r"sampler|row_stats"),
        ("rayon runtime (scheduling, waiting)", r"rayon|crossbeam"),
        ("memcpy/memset", r"memmove|memcpy|memset"),
        ("kernel: page faults, zeroing, I/O", r"\[kernel"),
        ("model load, tokenizer, GGUF", r"tokenizer|gguf|onig|hashbrown"),
        ("unidentified closures (inlined parallel task bodies)", r"ops::function::impls"),
    ],
}
LINE_RE = re.compile(r"^\s*([\d.]+)%\s+(\d+)\s+(\S+)\s+\[[.k]\]\s+(.*)$")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("--engine", choices=sorted(GROUPS), required=True)
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--json")
    a = ap.parse_args()
    out = subprocess.run(["perf", "report", "-i", a.data, "--stdio", "--sort", "dso,sym", "-n", "--no-children"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"perf report failed: {out.stderr[-2000:]}")
    groups = [(name, re.compile(p)) for name, p in GROUPS[a.engine]]
    totals = {name: 0 for name, _ in groups}
    totals["other"] = 0
    top_other = []
    for line in out.stdout.splitlines():
        m = LINE_RE.match(line)
        if not m:
            continue
        samples, dso, sym = int(m.group(2)), m.group(3), m.group(4)
        key = f"{dso} {'[kernel] ' if dso.startswith('[kernel') else ''}{sym}"
        name = next((n for n, p in groups if p.search(key)), "other")
        totals[name] += samples
        if name == "other" and len(top_other) < 8:
            top_other.append(f"{samples} {dso} {sym[:90]}")
    all_samples = sum(totals.values())
    print(f"{a.engine}: {all_samples} samples (ms of CPU with -e task-clock -c 1000000), {a.steps} steps\n")
    print("| group | CPU ms (whole run) | CPU ms / step | share |")
    print("|---|---:|---:|---:|")
    for name, s in sorted(totals.items(), key=lambda kv: -kv[1]):
        if s:
            print(f"| {name} | {s} | {s / a.steps:.0f} | {100.0 * s / all_samples:.1f} % |")
    if top_other:
        print("\nlargest 'other' symbols:\n  " + "\n  ".join(top_other), file=sys.stderr)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"engine": a.engine, "steps": a.steps, "samples": all_samples, "groups": totals}, f, indent=1)


if __name__ == "__main__":
    main()
