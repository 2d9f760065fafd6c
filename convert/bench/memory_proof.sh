#!/usr/bin/env bash
# Memory proof of the streaming converter (docs/perf.md "## Conversion"): builds a synthetic
# checkpoint of a few GB (make_synthetic_checkpoint.py) and converts it to each TYPE under
# /usr/bin/time -v, printing peak RSS, wall time and MB/s of output. Run by hand, not in CI.
#
# usage: bash convert/bench/memory_proof.sh [WORK_DIR] [TYPES...]   (default: q4_k_m bf16 q8_0)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-$root/target/memory-proof}"; shift || true
types=("${@:-q4_k_m}")
[ $# -eq 0 ] && types=(q4_k_m q8_0 bf16)
py="${DGEMMA_PYTHON:-$root/.venv/bin/python}"
cargo build --release --quiet -p dgemma-cli --manifest-path "$root/Cargo.toml"
[ -s "$work/ckpt/model.safetensors" ] || "$py" "$root/convert/bench/make_synthetic_checkpoint.py" "$work/ckpt"
in_bytes=$(stat -c %s "$work/ckpt/model.safetensors")
for t in "${types[@]}"; do
    sync
    /usr/bin/time -v "$root/target/release/dgemma" convert "$work/ckpt" -o "$work/out-$t.gguf" --type "$t" --force --quiet \
        2> "$work/time-$t.txt"
    rss=$(grep "Maximum resident" "$work/time-$t.txt" | awk '{print $NF}')
    wall=$(grep "Elapsed (wall" "$work/time-$t.txt" | awk '{print $NF}')
    cpu=$(grep "Percent of CPU" "$work/time-$t.txt" | awk '{print $NF}')
    out=$(stat -c %s "$work/out-$t.gguf")
    echo "$t: input $((in_bytes / 1000000)) MB BF16, output $((out / 1000000)) MB, peak RSS $((rss / 1024)) MB, wall $wall, CPU $cpu, $(grep '^wrote' "$work/time-$t.txt" | sed 's/.*bpw, //')"
done
