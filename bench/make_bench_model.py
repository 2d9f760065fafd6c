"""Writes a DiffusionGemma HF checkpoint with random BF16 weights at the real 26B-A4B widths
(hidden 2816, 16 heads, 8 x 256 sliding / 2 x 512 full KV, 128 experts x 704 top-8, dense 2112,
vocab 262,144, window 1024, canvas 256) but only a few layers, for speed comparisons.

usage: python bench/make_bench_model.py OUT_DIR --layers L2|L6 [--seed N]

L2 = 1 sliding + 1 full layer, L6 = 5 sliding + 1 full (one 26B period). The tokenizer and
generation/tokenizer configs are the real ones from ../shared/interop/. Tensors are drawn and
written one at a time (experts in slices), so memory stays near the largest slice, not the model.
Needs numpy only. The weights are noise: the output is meaningless, the timings are not.
"""
import argparse, json, lzma, os, struct, sys
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
INTEROP = os.path.join(HERE, "..", "..", "shared", "interop")

H, NH, HD, GHD, KV, GKV = 2816, 16, 256, 512, 8, 2
FF, E, TOPK, MOE, V, WINDOW, CANVAS = 2112, 128, 8, 704, 262144, 1024, 256
LAYOUTS = {"L2": ["sliding_attention", "full_attention"],
           "L6": ["sliding_attention"] * 5 + ["full_attention"]}


def layer_tensors(prefix: str, full: bool):
    hd, kv = (GHD, GKV) if full else (HD, KV)
    t = [
        (f"{prefix}.experts.down_proj", (E, H, MOE)),
        (f"{prefix}.experts.gate_up_proj", (E, 2 * MOE, H)),
        (f"{prefix}.input_layernorm.weight", (H,)),
        (f"{prefix}.layer_scalar", (1,)),
        (f"{prefix}.mlp.down_proj.weight", (H, FF)),
        (f"{prefix}.mlp.gate_proj.weight", (FF, H)),
        (f"{prefix}.mlp.up_proj.weight", (FF, H)),
        (f"{prefix}.post_attention_layernorm.weight", (H,)),
        (f"{prefix}.post_feedforward_layernorm.weight", (H,)),
        (f"{prefix}.post_feedforward_layernorm_1.weight", (H,)),
        (f"{prefix}.post_feedforward_layernorm_2.weight", (H,)),
        (f"{prefix}.pre_feedforward_layernorm.weight", (H,)),
        (f"{prefix}.pre_feedforward_layernorm_2.weight", (H,)),
        (f"{prefix}.router.per_expert_scale", (E,)),
        (f"{prefix}.router.proj.weight", (E, H)),
        (f"{prefix}.router.scale", (H,)),
        (f"{prefix}.self_attn.k_norm.weight", (hd,)),
        (f"{prefix}.self_attn.k_proj.weight", (kv * hd, H)),
        (f"{prefix}.self_attn.o_proj.weight", (H, NH * hd)),
        (f"{prefix}.self_attn.q_norm.weight", (hd,)),
        (f"{prefix}.self_attn.q_proj.weight", (NH * hd, H)),
    ]
    if not full:  # full layers share K and V (no v_proj), as in the released checkpoint
        t.append((f"{prefix}.self_attn.v_proj.weight", (kv * hd, H)))
    return t


def tensor_list(layers):
    t = [("model.decoder.embed_tokens.weight", (V, H))]
    for i, kind in enumerate(layers):
        t += layer_tensors(f"model.decoder.layers.{i}", kind == "full_attention")
    t += [
        ("model.decoder.norm.weight", (H,)),
        ("model.decoder.self_conditioning.down_proj.weight", (H, FF)),
        ("model.decoder.self_conditioning.gate_proj.weight", (FF, H)),
        ("model.decoder.self_conditioning.pre_norm.weight", (H,)),
        ("model.decoder.self_conditioning.up_proj.weight", (FF, H)),
    ]
    t += [(f"model.encoder.language_model.layers.{i}.layer_scalar", (1,)) for i in range(len(layers))]
    # The tiny vision tower of the interop checkpoint (the converter skips it), projected to H.
    for name, shape in json.load(open(os.path.join(INTEROP, "tensors.json"))):
        if "vision" in name:
            t.append((name, (H, shape[1]) if name.endswith("embedding_projection.weight") else tuple(shape)))
    return sorted(t)


def draw(name, shape, rng, out):
    """Writes the tensor's BF16 bytes to `out`, slice by slice along the first axis."""
    if name.endswith("layer_scalar"):
        a = (0.6 + 0.8 * rng.random(shape, dtype=np.float32))
        out.write(bf16(a)); return
    if len(shape) == 1:  # norm weights, router scale, per-expert scale
        out.write(bf16(1.0 + 0.25 * rng.standard_normal(shape, dtype=np.float32))); return
    scale = np.float32(1.0 / np.sqrt(shape[-1]))
    row = int(np.prod(shape[1:]))
    step = max(1, (16 << 20) // row)  # ~64 MiB of f32 per slice
    for s in range(0, shape[0], step):
        n = min(step, shape[0] - s)
        a = rng.standard_normal((n,) + tuple(shape[1:]), dtype=np.float32)
        a *= scale
        out.write(bf16(a))


def bf16(a: np.ndarray) -> bytes:
    """float32 -> bfloat16 by truncation (the values are noise; rounding mode does not matter)."""
    return (np.ascontiguousarray(a, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16).tobytes()


def config(layers):
    cfg = json.load(open(os.path.join(INTEROP, "config.json")))
    tc = cfg["text_config"]
    tc.update({
        "head_dim": HD, "hidden_size": H, "intermediate_size": FF, "layer_types": layers,
        "moe_intermediate_size": MOE, "num_attention_heads": NH, "num_experts": E,
        "num_hidden_layers": len(layers), "num_key_value_heads": KV, "sliding_window": WINDOW,
        "top_k_experts": TOPK, "vocab_size": V, "global_head_dim": GHD,
        "num_global_key_value_heads": GKV, "max_position_embeddings": 262144,
    })
    cfg["canvas_length"] = CANVAS
    return cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--layers", choices=sorted(LAYOUTS), required=True)
    ap.add_argument("--seed", type=int, default=20261125)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    layers = LAYOUTS[a.layers]
    tensors = tensor_list(layers)
    header, offset = {}, 0
    for name, shape in tensors:
        n = 2 * int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    rng = np.random.default_rng(a.seed)
    path = os.path.join(a.out, "model.safetensors")
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name, shape in tensors:
            draw(name, shape, rng, f)
    os.replace(path + ".tmp", path)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config(layers), f, indent=1)
    for name in ("generation_config.json", "tokenizer_config.json"):
        with open(os.path.join(INTEROP, name), "rb") as src, open(os.path.join(a.out, name), "wb") as dst:
            dst.write(src.read())
    with lzma.open(os.path.join(INTEROP, "tokenizer.json.xz")) as src, open(os.path.join(a.out, "tokenizer.json"), "wb") as dst:
        dst.write(src.read())
    print(f"{a.out}: {len(tensors)} tensors, {offset / 2**30:.2f} GiB BF16, layers {layers}", file=sys.stderr)


if __name__ == "__main__":
    main()
