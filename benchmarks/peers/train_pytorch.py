#!/usr/bin/env python3
"""PyTorch eager peer of benchmarks/bench_train.cpp: tokens/s of one training step of the same Llama.

The model is scripts/golden/llama_torch.py's (llama2.c model.py: RMSNorm, interleaved RoPE,
SwiGLU, no biases, the classifier tied to the embedding as in forma's presets), one leaf tensor
per layer and per weight as model.py's nn.Module holds them, float32 on the CPU. A step is
zero_grad, the mean cross-entropy's forward and backward, clip_grad_norm_(1.0) and
torch.optim.AdamW(lr 1e-4, betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on the matrices and
the embedding, 0 on the norm weights) — bench_train's step. Attention is
F.scaled_dot_product_attention(is_causal=True), what model.py runs on torch >= 2.0
(--attention explicit: the masked-softmax path).

After --warmup steps, steps run until --seconds have passed; prints one JSON line:
    {"peer": "pytorch", "shape": ..., "B": ..., "T": ..., "threads": ..., "tok_per_s": ..., ...}
Run (the venv of the project's PyTorch scripts):
    /work/venv/hf/bin/python benchmarks/peers/train_pytorch.py --shape stories15m --threads 2
"""

import argparse
import json
import pathlib
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "scripts" / "golden"))
import llama_torch  # noqa: E402  (found through the path set above)

# bench_train.cpp's shapes and B x T.
SHAPES = {
    "stories260k": (llama_torch.LlamaShape(dim=64, hidden=172, layers=5, heads=8, kv_heads=4,
                                           vocab=512), 8, 256),
    "stories15m": (llama_torch.LlamaShape(dim=288, hidden=768, layers=6, heads=6, kv_heads=6,
                                          vocab=32000), 4, 256),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("--batch", type=int, help="B (default: bench_train's)")
    ap.add_argument("--seq", type=int, help="T (default: bench_train's)")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    ap.add_argument("--seconds", type=float, default=10.0, help="timed time, after the warmup")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--attention", choices=["sdpa", "explicit"], default="sdpa")
    ap.add_argument("--optimizer", choices=["default", "foreach", "fused"], default="default",
                    help="AdamW's implementation (default: torch's choice on the CPU)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    shape, B, T = SHAPES[args.shape]
    B, T = args.batch or B, args.seq or T

    stacked = llama_torch.init_params(shape, torch.Generator().manual_seed(1234))
    per_layer = {"rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2", "w3"}
    p = {n: [t.clone().requires_grad_(True) for t in stacked[n]] if n in per_layer
         else stacked[n].clone().requires_grad_(True) for n in llama_torch.NAMES}

    def leaves(names):
        out = []
        for n in names:
            out += p[n] if isinstance(p[n], list) else [p[n]]
        return out

    params = leaves(llama_torch.NAMES)
    decay = leaves([n for n in llama_torch.NAMES if n in llama_torch.MATRICES])
    no_decay = leaves([n for n in llama_torch.NAMES if n not in llama_torch.MATRICES])
    impl = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[args.optimizer]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8, **impl)

    g = torch.Generator().manual_seed(42)
    seq = torch.randint(0, shape.vocab, (B, T + 1), generator=g)
    tokens, targets = seq[:, :-1].contiguous(), seq[:, 1:].contiguous()
    cos, sin = llama_torch.rope_tables(shape, T, torch.float32)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = llama_torch.loss(shape, p, tokens, targets, cos, sin, args.attention)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    steps, start = 0, time.perf_counter()
    while True:
        loss = step()
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= args.seconds and steps >= 3:
            break

    print(json.dumps({
        "peer": "pytorch", "shape": args.shape, "B": B, "T": T, "threads": args.threads,
        "params": sum(t.numel() for t in params), "steps": steps, "seconds": round(elapsed, 3),
        "ms_per_step": round(1e3 * elapsed / steps, 2), "tok_per_s": round(steps * B * T / elapsed, 1),
        "loss": round(loss, 4), "attention": args.attention, "optimizer": args.optimizer,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
