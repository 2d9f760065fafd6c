"""Reads a dgemma-written GGUF with gguf-py's GGUFReader and compares it with an entry of
../shared/interop/reference/gguf.json (what llama.cpp wrote for the same checkpoint).

usage: check_gguf.py FILE.gguf REFERENCE.json ENTRY [--json REPORT.json]

Checks: GGUFReader parses the file (every tensor's name, shape, type and every metadata key);
tensor list, ggml types, ne and sha256 of data equal the reference; every non-`general.*` key
has the reference's type and record sha256 (bytes from the value-type field to the record end).
`general.*` differences are reported, not failed. Exit status 1 on any failure, or with
--json: always 0, the result written as {"failures": [...], "general": [...], "tensors": N,
"keys": N} for the Rust tests (convert/tests/interop.rs) to assert on.
"""
import hashlib, json, sys
import numpy as np
from gguf import GGUFReader

def main():
    path, ref_path, entry = sys.argv[1:4]
    report = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--json" else None
    ref = json.load(open(ref_path))[entry]
    r = GGUFReader(path)
    raw = np.memmap(path, mode="r")
    failures, general = [], []
    # metadata: GGUFReader gives each field's parts; the record's value bytes run from the
    # value-type part to the end of the last part.
    fields = {}
    for name, f in r.fields.items():
        if name.startswith("GGUF."):
            continue
        start = f.offset + 8 + len(name.encode())
        end = f.offset + sum(p.nbytes for p in f.parts)
        fields[name] = (f, hashlib.sha256(raw[start:end].tobytes()).hexdigest())
    ref_keys = list(ref["metadata"].keys())
    for k in ref_keys:
        want = ref["metadata"][k]
        if k not in fields:
            (general if k.startswith("general.") else failures).append(f"key {k}: missing")
            continue
        got = fields[k][1]
        if got != want["sha256"]:
            msg = f"key {k}: record differs (reference value {str(want.get('value'))[:60]!r})"
            (general if k.startswith("general.") else failures).append(msg)
    for k in fields:
        if k not in ref["metadata"]:
            (general if k.startswith("general.") else failures).append(f"key {k}: not in the reference")
    got_order = [k for k in fields]
    if [k for k in got_order if not k.startswith("general.")] != [k for k in ref_keys if not k.startswith("general.")]:
        failures.append("metadata key order differs from the reference")
    ref_t = ref["tensors"]
    if [t["name"] for t in ref_t] != [t.name for t in r.tensors]:
        failures.append("tensor names/order differ from the reference")
    by_name = {t.name: t for t in r.tensors}
    for t in ref_t:
        g = by_name.get(t["name"])
        if g is None:
            failures.append(f"tensor {t['name']}: missing"); continue
        if g.tensor_type.name != t["type"]:
            failures.append(f"tensor {t['name']}: type {g.tensor_type.name}, reference {t['type']}")
        if [int(x) for x in g.shape] != t["ne"]:
            failures.append(f"tensor {t['name']}: ne {list(g.shape)}, reference {t['ne']}")
        data = raw[g.data_offset:g.data_offset + g.n_bytes].tobytes()
        if hashlib.sha256(data).hexdigest() != t["sha256"]:
            failures.append(f"tensor {t['name']}: data differs ({t['type']})")
    if report:
        with open(report, "w") as out:
            json.dump({"failures": failures, "general": general, "tensors": len(r.tensors), "keys": len(fields)}, out, indent=1)
        return
    for g in general:
        print("general.* difference:", g)
    for f in failures:
        print("FAIL", f)
    print(f"{path}: {len(r.tensors)} tensors, {len(fields)} keys, {len(failures)} failures")
    sys.exit(1 if failures else 0)

if __name__ == "__main__":
    main()
