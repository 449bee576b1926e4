#!/usr/bin/python3
"""check_mmc_safetensors.py — loads a safetensors file written by mmc in PyTorch and checks it.

Usage: /usr/bin/python3 tools/check_mmc_safetensors.py [FILE]
       (default tests/fixtures/written_by_mmc.safetensors)

The mmc → PyTorch half of the format's interop (the other half: the fixtures that
tools/gen_fixtures.py writes and the C tests read). FILE comes from
tests/test_safetensors_written.c, whose fill_written() makes the tensors EXPECTED spells out
here formula for formula. Debian's torch 1.13 has no safetensors loader, so the format is
parsed by hand, strictly: header length, JSON header, dtypes, offsets that tile the data
section in order, then torch.frombuffer. Exits 1 with a message on the first problem.
"""
import json
import math
import struct
import sys

import torch


def expected():
    return {
        "weight": torch.tensor([((i * 37) % 11 - 5) / 4.0 for i in range(6)], dtype=torch.float32).reshape(2, 3),
        "bias": torch.tensor([-0.0, 1e-40, 3.4028234663852886e38], dtype=torch.float32),
        "scalar": torch.tensor(3.14159265358979, dtype=torch.float32),
        "encoder.layer1.0.conv1.weight": torch.tensor([(i - 4) / 3.0 for i in range(8)],
                                                      dtype=torch.float32).reshape(2, 1, 2, 2),
        "empty": torch.empty(0, 4, dtype=torch.float32),
    }


def fail(msg):
    print(f"check_mmc_safetensors: {msg}", file=sys.stderr)
    sys.exit(1)


def load(path):
    """Returns ({name: tensor}, metadata) after checking the layout."""
    raw = open(path, "rb").read()
    if len(raw) < 8:
        fail(f"{path}: {len(raw)} bytes, too short")
    (hlen,) = struct.unpack("<Q", raw[:8])
    if 8 + hlen > len(raw):
        fail(f"{path}: header length {hlen} runs past the end")
    header = json.loads(raw[8:8 + hlen].decode("utf-8"))
    data = raw[8 + hlen:]
    meta = header.pop("__metadata__", {})
    tensors, end = {}, 0
    for name, e in header.items():  # mmc writes the data in header order, back to back
        if e["dtype"] != "F32":
            fail(f"{name}: dtype {e['dtype']}, mmc writes F32")
        b, f = e["data_offsets"]
        n = math.prod(e["shape"])
        if b != end or f - b != 4 * n:
            fail(f"{name}: offsets {b}..{f} for {n} values after byte {end}")
        end = f
        buf = bytearray(data[b:f])
        t = torch.frombuffer(buf, dtype=torch.float32) if n else torch.empty(0, dtype=torch.float32)
        tensors[name] = t.reshape(e["shape"])
    if end != len(data):
        fail(f"{path}: {len(data) - end} bytes after the last tensor")
    return tensors, meta


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/written_by_mmc.safetensors"
    got, meta = load(path)
    want = expected()
    if set(got) != set(want):
        fail(f"tensors {sorted(got)}, expected {sorted(want)}")
    for name, w in want.items():
        g = got[name]
        if g.shape != w.shape:
            fail(f"{name}: shape {tuple(g.shape)}, expected {tuple(w.shape)}")
        # bit for bit: the sign of -0.0 and the subnormal must survive too
        if g.numel() and not torch.equal(g.view(torch.int32), w.view(torch.int32)):
            fail(f"{name}: values {g.flatten().tolist()}, expected {w.flatten().tolist()}")
    if meta != {"format": "pt", "written_by": "mmc"}:
        fail(f"metadata {meta}")
    print(f"{path}: {len(got)} tensors written by mmc read by torch {torch.__version__}, all values bit-exact")


if __name__ == "__main__":
    main()
