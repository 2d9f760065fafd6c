"""`bench/compare kernels LLAMA_BIN_DIR`: dgemma's matmul against ggml's MUL_MAT, same shapes.

usage: bench/compare kernels LLAMA_BIN_DIR [--types q8_0,q4_K] [--batches 1,16,256]
                             [--shapes 4096x14336,4096x2816,...] [--nice 10] [--dgemma PATH] [--json OUT]

LLAMA_BIN_DIR holds an already built `test-backend-ops` (this script builds nothing). Its perf
mode has a fixed list of MUL_MAT shapes (4096 x 14336 weights at batch 1-8 and 512), so the
cases are handed to it with `--test-file`: one line per case describing a MUL_MAT node
(`ne = [ROWS, N]`, `src0 = TYPE [COLS, ROWS]`, `src1 = f32 [COLS, N]`), which it runs exactly
as its built-in cases (the node repeated in one graph for ~8 GB of traffic, graphs repeated for
at least 1 s; reported as us/run). dgemma runs the same (type, ROWS x COLS, N) cases with
`dgemma bench --kernel` (the CPU backend's `matmul`, activation quantization included, each call
timed, median reported). Both use every core of the machine: test-backend-ops always sets
hardware_concurrency() threads, so dgemma gets `-t` = os.cpu_count(). Both weights are reused
call after call, so weights under ~30 MB sit in the L3 on both sides.

The runs alternate engine by engine per (type, shape), both under the same `nice` level. The
table gives us per call for each engine and dgemma / ggml (< 1: dgemma faster).
"""
import argparse, json, os, re, subprocess, sys, tempfile

# ggml's enum values (ggml/include/ggml.h). MUL_MAT's position is checked against the op name
# test-backend-ops prints back, so a renumbered enum fails loudly instead of timing another op.
GGML_OP_MUL_MAT = 29
GGML_TYPES = {"f32": (0, 1, 4), "f16": (1, 1, 2), "bf16": (30, 1, 2), "q4_0": (2, 32, 18), "q5_0": (6, 32, 22), "q8_0": (8, 32, 34),
              "q4_K": (12, 256, 144), "q5_K": (13, 256, 176), "q6_K": (14, 256, 210)}
# The built-in perf shape first, then the model's: q/k proj, o proj, dense gate/up, dense down,
# expert gate/up, expert down, the LM head (= token_embd).
DEFAULT_SHAPES = "4096x14336,4096x2816,2816x4096,2112x2816,2816x2112,704x2816,2816x704,262144x2816"
LINE_RE = re.compile(r"MUL_MAT\(name=(\w+),[^\n]*?\):\s+(\d+) runs -\s+([\d.]+) us/run")


def case_line(ty, rows, cols, n):
    """One test-backend-ops --test-file line: a contiguous MUL_MAT of src0 [cols, rows] by src1 [cols, n]."""
    tid, block, size = GGML_TYPES[ty]
    nb1 = cols // block * size
    src0 = [tid, cols, rows, 1, 1, size, nb1, nb1 * rows, nb1 * rows]
    src1 = [0, cols, n, 1, 1, 4, 4 * cols, 4 * cols * n, 4 * cols * n]
    fields = [GGML_OP_MUL_MAT, 0, rows, n, 1, 1, 0, 2] + src0 + src1 + [f"{ty}_{rows}x{cols}_n{n}"]
    return " ".join(map(str, fields))


def ggml_times(a, ty, rows, cols, batches):
    """us/run per batch from test-backend-ops."""
    path = os.path.join(a.tmp, "mul_mat_cases.txt")
    with open(path, "w") as f:
        f.write("\n".join(case_line(ty, rows, cols, n) for n in batches) + "\n")
    exe = os.path.join(a.llama_bin, "test-backend-ops")
    out = subprocess.run(["nice", "-n", str(a.nice), exe, "perf", "-b", "CPU", "--test-file", path],
                         capture_output=True, text=True)
    text = out.stdout + out.stderr
    got = {m.group(1): (float(m.group(3)), int(m.group(2))) for m in LINE_RE.finditer(text)}
    res = {}
    for n in batches:
        key = f"{ty}_{rows}x{cols}_n{n}"
        if key not in got:
            sys.exit(f"compare kernels: test-backend-ops gave no MUL_MAT line for {key} (exit {out.returncode}):\n{text[-3000:]}")
        res[n] = {"us": got[key][0], "runs": got[key][1]}
    return res


def dgemma_times(a, ty, rows, cols, batches):
    """Median us per call per batch from dgemma bench --kernel."""
    spec = f"{ty}:{rows}x{cols}:{','.join(map(str, batches))}"
    cmd = ["nice", "-n", str(a.nice), a.dgemma, "bench", "-t", str(a.threads), "-r", str(a.reps), "-o", "json", "--kernel", spec]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"compare kernels: {' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return {k["n"]: {"us": k["us_median"], "us_min": k["us_min"], "calls": k["calls"]} for k in json.loads(out.stdout)["kernels"]}


def main(argv):
    ap = argparse.ArgumentParser(prog="bench/compare kernels", description=__doc__.splitlines()[0])
    ap.add_argument("llama_bin", help="directory holding test-backend-ops")
    ap.add_argument("--types", default="q8_0,q4_K")
    ap.add_argument("--batches", default="1,16,256")
    ap.add_argument("--shapes", default=DEFAULT_SHAPES, help="ROWSxCOLS,... (weight rows = outputs)")
    ap.add_argument("--nice", type=int, default=10)
    ap.add_argument("-r", "--reps", type=int, default=3, help="dgemma: minimum timed calls per case")
    ap.add_argument("-t", "--threads", type=int, default=os.cpu_count(), help="dgemma threads (ggml uses all cores)")
    ap.add_argument("--dgemma", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "dgemma"))
    ap.add_argument("--tmp", default=tempfile.gettempdir(), help="where the --test-file case list is written")
    ap.add_argument("--json", help="also write all numbers here")
    a = ap.parse_args(argv)
    exe = os.path.join(a.llama_bin, "test-backend-ops")
    for path, what in ((exe, "test-backend-ops"), (a.dgemma, "dgemma")):
        if not os.access(path, os.X_OK):
            sys.exit(f"compare kernels: {what} not found at {path}")
    batches = [int(b) for b in a.batches.split(",")]
    rows_out = []
    for ty in a.types.split(","):
        if ty not in GGML_TYPES:
            sys.exit(f"compare kernels: type {ty} not in {sorted(GGML_TYPES)}")
        for shape in a.shapes.split(","):
            rows, cols = map(int, shape.split("x"))
            if cols % GGML_TYPES[ty][1]:
                print(f"skip {ty} {shape}: {cols} columns are not whole {ty} blocks", file=sys.stderr)
                continue
            g = ggml_times(a, ty, rows, cols, batches)
            d = dgemma_times(a, ty, rows, cols, batches)
            for n in batches:
                r = {"type": ty, "rows": rows, "cols": cols, "n": n, "ggml_us": g[n]["us"], "ggml_runs": g[n]["runs"],
                     "dgemma_us": d[n]["us"], "dgemma_us_min": d[n]["us_min"], "dgemma_calls": d[n]["calls"]}
                r["ratio"] = r["dgemma_us"] / r["ggml_us"]
                rows_out.append(r)
                print(f"{ty} {rows}x{cols} n={n}: ggml {r['ggml_us']:.0f} us, dgemma {r['dgemma_us']:.0f} us, ratio {r['ratio']:.2f}",
                      file=sys.stderr)
    print(f"\nggml test-backend-ops perf (all cores) vs dgemma bench --kernel -t {a.threads}; nice {a.nice}\n")
    print("| type | rows x cols | n | ggml us/run | dgemma us/call (median) | ggml GFLOP/s | dgemma GFLOP/s | dgemma / ggml |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows_out:
        flop = 2.0 * r["rows"] * r["cols"] * r["n"]
        print(f"| {r['type']} | {r['rows']}x{r['cols']} | {r['n']} | {r['ggml_us']:.1f} | {r['dgemma_us']:.1f} | "
              f"{flop / r['ggml_us'] / 1e3:.1f} | {flop / r['dgemma_us'] / 1e3:.1f} | {r['ratio']:.2f} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"args": vars(a), "cases": rows_out}, f, indent=1)
