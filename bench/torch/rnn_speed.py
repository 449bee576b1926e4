"""PyTorch side of bench/rnn_speed.c: forward+backward of one nn.GRU / nn.LSTM layer
(batch_first) with the seed gradient on the outputs, median and fastest of 15 steps after 3 warm-up.
usage: python3 bench/torch/rnn_speed.py [gru|lstm] [threads] [B T IN H]"""
import sys
import time

import torch

kind = sys.argv[1] if len(sys.argv) > 1 else "gru"
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
B, T, IN, H = (int(v) for v in sys.argv[3:7]) if len(sys.argv) > 6 else (128, 16, 256, 512)
torch.set_num_threads(threads)
torch.manual_seed(0)
m = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(IN, H, batch_first=True)
x = torch.randn(B, T, IN, requires_grad=True)
g = torch.randn(B, T, H)
ts, tf = [], []
for i in range(18):
    m.zero_grad()
    x.grad = None
    t0 = time.perf_counter()
    out, _ = m(x)
    t1 = time.perf_counter()
    out.backward(g)
    t2 = time.perf_counter()
    if i >= 3:
        ts.append(t2 - t0)
        tf.append(t1 - t0)
ts.sort()
tf.sort()
G = 4 if kind == "lstm" else 3
flops = 3.0 * 2.0 * B * T * G * H * (IN + H)
print(f"torch {kind} B={B} T={T} IN={IN} H={H} threads={threads}: fwd+bwd median {ts[7]*1e3:.2f} ms, "
      f"min {ts[0]*1e3:.2f} ms (fwd min {tf[0]*1e3:.2f} ms), {flops / ts[0] * 1e-9:.1f} GFLOP/s at min")
