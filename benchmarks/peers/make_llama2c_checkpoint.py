#!/usr/bin/env python3
"""Random-weight llama2.c checkpoints with the shapes of llama2.c's stories models, for decode
benchmarks (the values do not change the speed; the shapes do).

    python3 benchmarks/peers/make_llama2c_checkpoint.py OUT_DIR [--shapes 15m 42m 110m] [--seed 1]

writes OUT_DIR/stories<shape>_random.bin in llama2.c's legacy format (export.py --version 0:
7 int32 header, float32 weights in run.c's order, RoPE tables, shared classifier), readable by
llama2.c's run, forma-run and benchmarks/bench_decode. Weights ~ N(0, 0.02²), norms 1, so the
logits stay finite over any number of steps. Needs only NumPy (Debian's python3-numpy).
"""
import argparse
import pathlib
import struct

import numpy as np

# dim, hidden, layers, heads, kv_heads, vocab, seq_len — llama2.c's README table.
SHAPES = {
    "15m": (288, 768, 6, 6, 6, 32000, 256),
    "42m": (512, 1376, 8, 8, 8, 32000, 1024),
    "110m": (768, 2048, 12, 12, 12, 32000, 1024),
}


def write(path: pathlib.Path, shape, seed: int) -> None:
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = shape
    head = dim // heads
    kv_dim = kv_heads * head
    rng = np.random.default_rng(seed)

    def normal(*size):
        return (rng.standard_normal(size, dtype=np.float32) * np.float32(0.02)).astype("<f4")

    ones = lambda *size: np.ones(size, dtype="<f4")
    freqs = 1.0 / (10000.0 ** (np.arange(0, head, 2)[: head // 2].astype(np.float32) / head))
    angles = np.outer(np.arange(seq_len, dtype=np.float32), freqs).astype(np.float32)
    with open(path, "wb") as f:
        f.write(struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab, seq_len))
        for array in (
            normal(vocab, dim),
            ones(layers, dim),
            normal(layers, dim, dim),
            normal(layers, kv_dim, dim),
            normal(layers, kv_dim, dim),
            normal(layers, dim, dim),
            ones(layers, dim),
            normal(layers, hidden, dim),
            normal(layers, dim, hidden),
            normal(layers, hidden, dim),
            ones(dim),
            np.cos(angles).astype("<f4"),
            np.sin(angles).astype("<f4"),
        ):
            f.write(array.tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=pathlib.Path)
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name in args.shapes:
        path = args.out_dir / f"stories{name}_random.bin"
        write(path, SHAPES[name], args.seed)
        print(f"{path}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
