#!/usr/bin/python3
"""gen_fixtures.py — writes the PyTorch parity fixtures the C tests compare against.

Usage: /usr/bin/python3 tools/gen_fixtures.py OUTDIR [MODULE ...]

Each module in tools/fixtures/ has generate(save); save(name, {tensor_name: tensor})
writes OUTDIR/<name>.safetensors. Floating tensors are stored as F32, integer ones as I64.
Convention: inputs are made in float32 (so C sees exactly the same numbers), references
are computed in float64 from those inputs and rounded once to float32.

Needs Debian's python3-torch (1.13). Deterministic: every module seeds torch itself.
"""
import importlib
import json
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def write_safetensors(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        t = torch.as_tensor(t).detach().cpu().contiguous()
        if t.is_floating_point():
            t, dtype = t.to(torch.float32), "F32"
        elif t.dtype == torch.bool:
            t, dtype = t.to(torch.uint8), "U8"
        else:
            t, dtype = t.to(torch.int64), "I64"
        raw = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(1)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    mods = sys.argv[2:] or sorted(
        f[:-3] for f in os.listdir(os.path.join(HERE, "fixtures")) if f.endswith(".py") and not f.startswith("_"))
    torch.set_num_threads(1)
    for m in mods:
        mod = importlib.import_module("fixtures." + m)
        count = [0]

        def save(name, tensors, metadata=None):
            write_safetensors(os.path.join(out, name + ".safetensors"), tensors, metadata)
            count[0] += 1

        mod.generate(save)
        print(f"{m}: wrote {count[0]} fixtures into {out}")


if __name__ == "__main__":
    main()
