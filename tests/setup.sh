#!/usr/bin/env bash
# Prepare everything the test suite needs: a Python virtualenv with the pinned reference packages
# (tests/requirements.txt) and the generated fixtures (tests/fixtures/generated/), made by the
# generators in tests/fixtures/generate.d/ in name order. Idempotent: generators skip work whose
# outputs are up to date.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
    echo "$want" > "$stamp"
fi
export DGEMMA_PYTHON="$root/.venv/bin/python"
mkdir -p tests/fixtures/generated
for gen in tests/fixtures/generate.d/*.sh; do
    [ -e "$gen" ] || continue
    echo "== fixtures: $gen"
    bash "$gen"
done
