#!/usr/bin/python3
"""make_clip_b32.py — a CLIP ViT-B/32 model folder with random weights, laid out as the
Hugging Face hub has openai/clip-vit-base-patch32 (config.json, preprocessor_config.json,
model.safetensors F32, vocab.json + merges.txt from ../shared/vocab), for measuring memory
and indexing throughput at the real size where the real checkpoint cannot be downloaded.

Usage: /usr/bin/python3 tools/make_clip_b32.py OUT_DIR [--vocab DIR] [--seed S]

Sizes: text width 512, 12 layers, 8 heads, MLP 2048, 77 positions, vocabulary 49408; vision
224 px, patch 32, width 768, 12 layers, 12 heads, MLP 3072; projection 512; quick_gelu.
Weights N(0, 0.02), layer norms near 1 / 0, logit_scale log(1/0.07): 151 M parameters,
605 MB. numpy only (no torch, no transformers)."""
import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np


def tensors(rng):
    D_t, L_t, F_t, V, T = 512, 12, 2048, 49408, 77
    D_v, L_v, F_v, S, p, P = 768, 12, 3072, 224, 32, 512
    n = lambda *shape: (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)
    one = lambda d: (1.0 + rng.standard_normal(d, dtype=np.float32) * 0.02).astype(np.float32)
    out = {}

    def layer(prefix, D, F):
        out[f"{prefix}.layer_norm1.weight"], out[f"{prefix}.layer_norm1.bias"] = one(D), n(D)
        out[f"{prefix}.layer_norm2.weight"], out[f"{prefix}.layer_norm2.bias"] = one(D), n(D)
        for k in ("q_proj", "k_proj", "v_proj", "out_proj"):
            out[f"{prefix}.self_attn.{k}.weight"], out[f"{prefix}.self_attn.{k}.bias"] = n(D, D), n(D)
        out[f"{prefix}.mlp.fc1.weight"], out[f"{prefix}.mlp.fc1.bias"] = n(F, D), n(F)
        out[f"{prefix}.mlp.fc2.weight"], out[f"{prefix}.mlp.fc2.bias"] = n(D, F), n(D)

    out["text_model.embeddings.token_embedding.weight"] = n(V, D_t)
    out["text_model.embeddings.position_embedding.weight"] = n(T, D_t)
    for i in range(L_t):
        layer(f"text_model.encoder.layers.{i}", D_t, F_t)
    out["text_model.final_layer_norm.weight"], out["text_model.final_layer_norm.bias"] = one(D_t), n(D_t)
    out["text_projection.weight"] = n(P, D_t)
    g = S // p
    out["vision_model.embeddings.patch_embedding.weight"] = n(D_v, 3, p, p)
    out["vision_model.embeddings.class_embedding"] = n(D_v)
    out["vision_model.embeddings.position_embedding.weight"] = n(g * g + 1, D_v)
    out["vision_model.pre_layrnorm.weight"], out["vision_model.pre_layrnorm.bias"] = one(D_v), n(D_v)
    for i in range(L_v):
        layer(f"vision_model.encoder.layers.{i}", D_v, F_v)
    out["vision_model.post_layernorm.weight"], out["vision_model.post_layernorm.bias"] = one(D_v), n(D_v)
    out["visual_projection.weight"] = n(P, D_v)
    out["logit_scale"] = np.array(np.log(1 / 0.07), dtype=np.float32)
    return out


def write_safetensors(path, ts):
    header, off, names = {"__metadata__": {"format": "pt"}}, 0, sorted(ts)
    for k in names:
        b = ts[k].nbytes
        header[k] = {"dtype": "F32", "shape": list(ts[k].shape), "data_offsets": [off, off + b]}
        off += b
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for k in names:
            f.write(np.ascontiguousarray(ts[k]).tobytes())
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--vocab", default=os.path.join(here, "..", "..", "shared", "vocab"))
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    config = {
        "model_type": "clip", "projection_dim": 512, "logit_scale_init_value": 2.6592,
        "text_config": {"hidden_size": 512, "intermediate_size": 2048, "num_attention_heads": 8,
                        "num_hidden_layers": 12, "max_position_embeddings": 77, "vocab_size": 49408,
                        "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "bos_token_id": 49406,
                        "eos_token_id": 2, "pad_token_id": 1},
        "vision_config": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12,
                          "num_hidden_layers": 12, "image_size": 224, "patch_size": 32, "num_channels": 3,
                          "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5},
    }
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    pre = {"crop_size": {"height": 224, "width": 224}, "do_center_crop": True, "do_normalize": True,
           "do_rescale": True, "do_resize": True, "image_mean": [0.48145466, 0.4578275, 0.40821073],
           "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "rescale_factor": 0.00392156862745098,
           "size": {"shortest_edge": 224}, "image_processor_type": "CLIPImageProcessor"}
    with open(os.path.join(a.out, "preprocessor_config.json"), "w") as f:
        json.dump(pre, f, indent=1)
    for name in ("vocab.json", "merges.txt"):
        src = os.path.join(a.vocab, name)
        if not os.path.exists(src):
            sys.exit(f"make_clip_b32: {src} is missing (the shared vocabulary); pass --vocab DIR")
        shutil.copyfile(src, os.path.join(a.out, name))
    with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
        json.dump({"model_max_length": 77, "tokenizer_class": "CLIPTokenizer"}, f)
    rng = np.random.default_rng(a.seed)
    ts = tensors(rng)
    write_safetensors(os.path.join(a.out, "model.safetensors"), ts)
    print(f"{a.out}: CLIP ViT-B/32, {sum(t.size for t in ts.values()) / 1e6:.1f} M parameters, random (seed {a.seed})")


if __name__ == "__main__":
    main()
