"""Writes a synthetic DiffusionGemma checkpoint of a few GB for the converter's memory proof
(convert/bench/memory_proof.sh): the 26B's hidden size, vocabulary and expert width, fewer layers
and experts, random BF16 weights written tensor by tensor in chunks (this script's own memory
stays ~100 MB). Tokenizer and generation config are the interop checkpoint's.

usage: python make_synthetic_checkpoint.py OUT_DIR [N_LAYERS] [N_EXPERTS]
"""
import json, lzma, os, shutil, struct, sys
import numpy as np

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../shared/interop")

def main(out, n_layers=2, n_experts=32):
    os.makedirs(out, exist_ok=True)
    E, F, I, V, H, HD, HDG, KV, KVG = 2816, 2112, 704, 262144, 16, 256, 512, 8, 2
    layer_types = ["full_attention" if (i + 1) % 6 == 0 or i + 1 == n_layers else "sliding_attention" for i in range(n_layers)]
    cfg = json.load(open(f"{SHARED}/config.json"))
    t = cfg["text_config"]
    t.update(hidden_size=E, intermediate_size=F, moe_intermediate_size=I, vocab_size=V, num_attention_heads=H,
             head_dim=HD, global_head_dim=HDG, num_key_value_heads=KV, num_global_key_value_heads=KVG,
             num_hidden_layers=n_layers, layer_types=layer_types, num_experts=n_experts, top_k_experts=8,
             sliding_window=1024, max_position_embeddings=262144)
    cfg["canvas_length"] = 256
    json.dump(cfg, open(f"{out}/config.json", "w"), indent=1)
    for name in ("generation_config.json", "tokenizer_config.json"):
        shutil.copy(f"{SHARED}/{name}", f"{out}/{name}")
    with lzma.open(f"{SHARED}/tokenizer.json.xz") as src, open(f"{out}/tokenizer.json", "wb") as dst:
        shutil.copyfileobj(src, dst)

    shapes = [("model.decoder.embed_tokens.weight", (V, E)), ("model.decoder.norm.weight", (E,))]
    for n in ("pre_norm",):
        shapes.append((f"model.decoder.self_conditioning.{n}.weight", (E,)))
    shapes += [("model.decoder.self_conditioning.gate_proj.weight", (F, E)),
               ("model.decoder.self_conditioning.up_proj.weight", (F, E)),
               ("model.decoder.self_conditioning.down_proj.weight", (E, F))]
    for l, kind in enumerate(layer_types):
        hd, kv = (HD, KV) if kind == "sliding_attention" else (HDG, KVG)
        p = f"model.decoder.layers.{l}."
        shapes += [(p + "input_layernorm.weight", (E,)), (p + "self_attn.q_proj.weight", (H * hd, E)),
                   (p + "self_attn.k_proj.weight", (kv * hd, E)), (p + "self_attn.o_proj.weight", (E, H * hd)),
                   (p + "self_attn.q_norm.weight", (hd,)), (p + "self_attn.k_norm.weight", (hd,)),
                   (p + "post_attention_layernorm.weight", (E,)), (p + "pre_feedforward_layernorm.weight", (E,)),
                   (p + "mlp.gate_proj.weight", (F, E)), (p + "mlp.up_proj.weight", (F, E)), (p + "mlp.down_proj.weight", (E, F)),
                   (p + "post_feedforward_layernorm_1.weight", (E,)), (p + "pre_feedforward_layernorm_2.weight", (E,)),
                   (p + "router.proj.weight", (n_experts, E)), (p + "router.scale", (E,)),
                   (p + "experts.gate_up_proj", (n_experts, 2 * I, E)), (p + "experts.down_proj", (n_experts, E, I)),
                   (p + "router.per_expert_scale", (n_experts,)), (p + "post_feedforward_layernorm_2.weight", (E,)),
                   (p + "post_feedforward_layernorm.weight", (E,)), (p + "layer_scalar", (1,)),
                   (f"model.encoder.language_model.layers.{l}.layer_scalar", (1,))]
        if kind == "sliding_attention":
            shapes.append((p + "self_attn.v_proj.weight", (kv * hd, E)))
    shapes.sort()
    header, off = {}, 0
    for name, shape in shapes:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    rng = np.random.default_rng(7)
    with open(f"{out}/model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name, shape in shapes:
            n = int(np.prod(shape))
            scale = 1.0 / np.sqrt(shape[-1]) if len(shape) > 1 else 0.1
            done = 0
            while done < n:
                k = min(n - done, 1 << 24)
                x = rng.standard_normal(k, dtype=np.float32) * np.float32(scale)
                if len(shape) == 1:
                    x += 1.0
                u = x.view(np.uint32)
                f.write(((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16).tobytes())
                done += k
    print(f"{out}: {off / 1e9:.2f} GB of BF16 weights, {off // 2:,} parameters")

if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:]))
