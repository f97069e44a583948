#!/usr/bin/env python3
"""PyTorch reference for forma-train: 10 AdamW steps of a tiny GQA Llama, writing fixtures.

Run from the repository root (torch 2.x, CPU, float32):
    /work/venv/hf/bin/python scripts/golden/make_train_tool_golden.py

Writes tests/data/train/tool/:
  init.bin           the initial model, a llama2.c version-0 legacy checkpoint in forma-train's
                     `tiny` shape (dim 32, hidden 96, 2 layers, 4 heads, 2 kv heads, vocab 512,
                     seq 128, shared classifier), with perturbed norm weights
  tokens.bin         2000 uint16 token ids (a seeded sparse Markov chain)
  expected_loss.csv  step,loss,lr,grad_norm of PyTorch's run (loss before the update, the norm
                     before clipping), 9 significant digits
  expected_model.bin PyTorch's parameters after the run, in the same legacy format
  expected_loss_t12.csv, expected_model_t12.bin   the same with T=12
The run is the one scripts/golden/check_train_tool.py gives forma-train (ARGS below): llm.c's
sequential batches of B=4 rows of T=16 (or 12) tokens, mean cross-entropy, clip_grad_norm_(0.5), cosine
schedule with 2 warmup steps (lr 1e-3 -> min 1e-4 over 10 steps), torch.optim.AdamW(betas 0.9,
0.95, eps 1e-8, weight decay 0.1 on the embedding and the matrices only). Deterministic.
"""
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

D, H, L, NH, KV, V, S = 32, 96, 2, 4, 2, 512, 128
HD = D // NH
B, STEPS = 4, 10
LR, MIN_LR, WARMUP, CLIP, WD = 1e-3, 1e-4, 2, 0.5, 0.1
ARGS = ["--batch", "4", "--seq", "16", "--steps", "10", "--lr", "1e-3", "--min-lr", "1e-4",
        "--warmup", "2", "--schedule", "cosine", "--clip", "0.5"]
OUT = os.path.join("tests", "data", "train", "tool")
ORDER = ["token_embedding", "rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2", "w3", "rms_final"]


def freqs(dim, end, theta=10000.0):
    # llama2.c model.py precompute_freqs_cis
    f = 1.0 / (theta ** (torch.arange(0, dim, 2)[: (dim // 2)].float() / dim))
    t = torch.arange(end, device=f.device)
    f = torch.outer(t, f).float()
    return torch.cos(f), torch.sin(f)


def write_legacy(path, p):
    cos, sin = freqs(HD, S)
    with open(path, "wb") as f:
        f.write(struct.pack("7i", D, H, L, NH, KV, V, S))
        for name in ORDER:
            f.write(p[name].detach().numpy().astype("<f4").tobytes())
        f.write(cos.numpy().astype("<f4").tobytes())
        f.write(sin.numpy().astype("<f4").tobytes())


def main():
    torch.set_num_threads(1)
    rng = np.random.default_rng(20261203)
    res = 0.02 / math.sqrt(2 * L)

    def normal(shape, sd):
        return (rng.standard_normal(shape) * sd).astype(np.float32)

    init = {
        "token_embedding": normal((V, D), 0.02),
        "rms_att": 1 + normal((L, D), 0.1),
        "wq": normal((L, D, D), 0.02),
        "wk": normal((L, KV * HD, D), 0.02),
        "wv": normal((L, KV * HD, D), 0.02),
        "wo": normal((L, D, D), res),
        "rms_ffn": 1 + normal((L, D), 0.1),
        "w1": normal((L, H, D), 0.02),
        "w2": normal((L, D, H), res),
        "w3": normal((L, H, D), 0.02),
        "rms_final": 1 + normal((D,), 0.1),
    }
    # Tokens: a sparse Markov chain over 200 ids (each id followed by one of 3 successors).
    successors = rng.integers(0, 200, size=(200, 3)) + rng.integers(0, 2, size=(200, 3)) * 300
    successors %= V
    tokens = [1]
    for _ in range(1999):
        tokens.append(int(successors[tokens[-1] % 200, rng.integers(0, 3)]))
    tokens = np.array(tokens, dtype="<u2")

    os.makedirs(OUT, exist_ok=True)
    write_legacy(os.path.join(OUT, "init.bin"), {k: torch.tensor(v) for k, v in init.items()})
    with open(os.path.join(OUT, "tokens.bin"), "wb") as f:
        f.write(tokens.tobytes())
    train(init, tokens, 16, "")
    train(init, tokens, 12, "_t12")


def train(init, tokens, T, suffix):
    P = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}

    decay = [P[k] for k in ["token_embedding", "wq", "wk", "wv", "wo", "w1", "w2", "w3"]]
    no_decay = [P[k] for k in ["rms_att", "rms_ffn", "rms_final"]]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=(0.9, 0.95), eps=1e-8, foreach=False)
    cos, sin = freqs(HD, S)
    cos, sin = cos[:T].view(1, T, 1, HD // 2), sin[:T].view(1, T, 1, HD // 2)

    def rmsnorm(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w

    def rope(x):  # (B, T, h, HD), interleaved pairs
        a, b = x[..., 0::2], x[..., 1::2]
        return torch.stack([a * cos - b * sin, a * sin + b * cos], -1).flatten(-2)

    def loss_of(x_ids, y_ids):
        x = P["token_embedding"][x_ids]
        for l in range(L):
            xn = rmsnorm(x, P["rms_att"][l])
            q = rope((xn @ P["wq"][l].T).view(B, T, NH, HD))
            k = rope((xn @ P["wk"][l].T).view(B, T, KV, HD))
            v = (xn @ P["wv"][l].T).view(B, T, KV, HD)
            k = k.repeat_interleave(NH // KV, dim=2)
            v = v.repeat_interleave(NH // KV, dim=2)
            o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
            x = x + o.transpose(1, 2).reshape(B, T, D) @ P["wo"][l].T
            xn = rmsnorm(x, P["rms_ffn"][l])
            x = x + (F.silu(xn @ P["w1"][l].T) * (xn @ P["w3"][l].T)) @ P["w2"][l].T
        logits = rmsnorm(x, P["rms_final"]) @ P["token_embedding"].T
        return F.cross_entropy(logits.view(-1, V), y_ids.reshape(-1))

    def lr_at(s):
        if s < WARMUP:
            return LR * (s + 1) / WARMUP
        return MIN_LR + 0.5 * (1 + math.cos(math.pi * (s - WARMUP) / (STEPS - WARMUP))) * (LR - MIN_LR)

    data = torch.tensor(tokens.astype(np.int64))
    pos, rows = 0, []
    for s in range(STEPS):
        buf = data[pos:pos + B * T + 1]
        pos += B * T
        if pos + B * T + 1 > len(data):
            pos = 0
        loss = loss_of(buf[:-1].view(B, T), buf[1:].view(B, T))
        opt.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(P.values()), CLIP, foreach=False)
        lr = lr_at(s)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        rows.append(f"{s},{loss.item():.9g},{lr:.9g},{norm.item():.9g}")
        print(rows[-1])
    with open(os.path.join(OUT, f"expected_loss{suffix}.csv"), "w") as f:
        f.write("step,loss,lr,grad_norm\n" + "\n".join(rows) + "\n")
    write_legacy(os.path.join(OUT, f"expected_model{suffix}.bin"), P)


if __name__ == "__main__":
    main()
