#!/usr/bin/env python3
"""Inputs for llm.c's CPU trainer (train_gpt2.c) at a small GPT-2 shape: a checkpoint and tokens.

train_gpt2.c reads, relative to the directory it runs in,
  gpt2_124M.bin                                   a version-3 checkpoint: 256 int32 of header
                                                  (20240326, 3, maxT, V, L, NH, C, Vp, 0...), then
                                                  float32 parameters in llm.c's order (wte padded
                                                  to Vp rows, wpe, ln1w, ln1b, qkvw, qkvb,
                                                  attprojw, attprojb, ln2w, ln2b, fcw, fcb,
                                                  fcprojw, fcprojb, lnfw, lnfb; weights (out, in))
  dev/data/tinyshakespeare/tiny_shakespeare_{train,val}.bin
                                                  256 int32 of header (20240520, 1, ntok, 0...),
                                                  then ntok uint16 token ids
This writes both into --out (never into an llm.c clone): GPT-2's initialization (normal 0.02,
0.02/sqrt(2L) for the residual projections, LayerNorm weights 1, biases 0, padded rows 0) and
uniform random token ids below V. Only the shape matters for speed, so the checkpoint's values
and the text are not a trained model's.

Shapes: bench_train's GPT-2 cases of the same names (GPT2Trainer), about the size of its Llamas
(stories260K: 0.26 M parameters, stories15M: 15.2 M):
  gpt2_260k  C 64, L 5, NH 8, V 512, maxT 256     (299,200 parameters)
  gpt2_15m   C 288, L 6, NH 6, V 32000, maxT 256  (15,284,736 parameters)
Run (any Python with numpy):
    /work/venv/hf/bin/python benchmarks/peers/make_llmc_checkpoint.py --shape gpt2_15m --out /tmp/llmc-15m
then run the llm.c binary from that directory (benchmarks/README.md, "Training").
"""

import argparse
import math
import pathlib

import numpy as np

SHAPES = {  # C, L, NH, V, maxT
    "gpt2_260k": (64, 5, 8, 512, 256),
    "gpt2_15m": (288, 6, 6, 32000, 256),
}
MODEL_MAGIC, MODEL_VERSION = 20240326, 3
DATA_MAGIC, DATA_VERSION = 20240520, 1


def header(*values):
    h = np.zeros(256, dtype="<i4")
    h[: len(values)] = values
    return h.tobytes()


def parameters(C, L, V, Vp, maxT, rng):
    std, res_std = 0.02, 0.02 / math.sqrt(2 * L)

    def normal(shape, s):
        return (rng.standard_normal(shape) * s).astype("<f4")

    def zeros(shape):
        return np.zeros(shape, dtype="<f4")

    def ones(shape):
        return np.ones(shape, dtype="<f4")

    wte = zeros((Vp, C))
    wte[:V] = normal((V, C), std)
    return [wte, normal((maxT, C), std),
            ones((L, C)), zeros((L, C)),                           # ln1w, ln1b
            normal((L, 3 * C, C), std), zeros((L, 3 * C)),         # qkvw, qkvb
            normal((L, C, C), res_std), zeros((L, C)),             # attprojw, attprojb
            ones((L, C)), zeros((L, C)),                           # ln2w, ln2b
            normal((L, 4 * C, C), std), zeros((L, 4 * C)),         # fcw, fcb
            normal((L, C, 4 * C), res_std), zeros((L, C)),         # fcprojw, fcprojb
            ones((C,)), zeros((C,))]                               # lnfw, lnfb


def write_tokens(path, count, V, rng):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(header(DATA_MAGIC, DATA_VERSION, count))
        f.write(rng.integers(0, V, size=count).astype("<u2").tobytes())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("--out", required=True, type=pathlib.Path, help="the directory to write")
    ap.add_argument("--train-tokens", type=int, default=1 << 18)
    ap.add_argument("--val-tokens", type=int, default=1 << 16)
    args = ap.parse_args()

    C, L, NH, V, maxT = SHAPES[args.shape]
    Vp = (V + 127) // 128 * 128  # llm.c pads the vocabulary to a multiple of 128
    assert V < 1 << 16, "token ids are uint16"
    rng = np.random.default_rng(1234)
    args.out.mkdir(parents=True, exist_ok=True)
    params = parameters(C, L, V, Vp, maxT, rng)
    with open(args.out / "gpt2_124M.bin", "wb") as f:
        f.write(header(MODEL_MAGIC, MODEL_VERSION, maxT, V, L, NH, C, Vp))
        for p in params:
            f.write(p.tobytes())
    data = args.out / "dev" / "data" / "tinyshakespeare"
    write_tokens(data / "tiny_shakespeare_train.bin", args.train_tokens, V, rng)
    write_tokens(data / "tiny_shakespeare_val.bin", args.val_tokens, V, rng)
    count = sum(p.size for p in params)
    print(f"{args.out}: {args.shape} C {C} L {L} NH {NH} V {V} (Vp {Vp}) maxT {maxT}, "
          f"{count} parameters; {args.train_tokens} + {args.val_tokens} tokens")


if __name__ == "__main__":
    main()
