#!/work/venv/hf/bin/python
"""PyTorch fixtures for forma's model-level training (tests/unit/train/trainer.cpp for the Llama,
tests/unit/train/gpt2_trainer.cpp for GPT-2).

A tiny llama2.c-style Llama in plain torch (scripts/golden/llama_torch.py, shared with the PyTorch
peer of benchmarks/bench_train.cpp) — llama2.c model.py's arithmetic: RMSNorm
x * rsqrt(mean(x^2) + eps) * w, interleaved RoPE on (real, imaginary) pairs with the angles of
precompute_freqs_cis (float32), GQA by repeating each kv head for its group of query heads,
SwiGLU w2(silu(w1 x) * w3 x), no biases, the classifier tied to the token embedding — with
dim 32, hidden 64, layers 2, heads 4, kv_heads 2, vocab 64, batch 2, seq 8.

Writes tests/data/golden/train/llama/:
  init/<name>.npy      the initial parameters in float32, llama2.c's stacked layout
                       (token_embedding (V, D), rms_att (L, D), wq (L, D, D), wk, wv (L, KV, D),
                        wo (L, D, D), rms_ffn (L, D), w1, w3 (L, H, D), w2 (L, D, H), rms_final (D))
  tokens.npy, targets.npy   the fixed batch (B, T) int32
  grad/<name>.npy      every gradient of the mean cross-entropy at init, float64
  step1/<name>.npy     the parameters after 1 AdamW step, float64
  step10/<name>.npy    the parameters after 10 AdamW steps, float64
  step1_f32/, step10_f32/  the same steps run by torch in float32 (float's own distance from the
                       float64 run: AdamW's update g / (|g| + eps) turns the rounding of a gradient
                       entry near eps into a visible change of the parameter)
  losses.npy, norms.npy  each step's loss and its gradient norm before clipping, float64
The float64 run starts from the float32 initial values widened exactly, so it measures forma's
error and not the fixture's rounding.

Training (llama2.c train.py's recipe): torch.optim.AdamW(betas (0.9, 0.95), eps 1e-8,
foreach=False), weight decay 0.1 on the 2-D parameters (embedding, projections) and 0 on the norm
weights; clip_grad_norm_(1.0) each step; lr(s) = 5e-3 (s+1)/2 for s < 2, then cosine from 5e-3 to
5e-4 over s in [2, 10]. The same batch every step.

GPT-2 (scripts/golden/gpt2_torch.py: torch.nn.functional's layer_norm, gelu(approximate='tanh'),
scaled_dot_product_attention(is_causal=True), linear with biases; the classifier tied to wte)
with dim 32 (hidden 128), layers 2, heads 4, vocab 64, 16 position rows, batch 2, seq 8 writes the
same files to tests/data/golden/train/gpt2/, in llm.c's ParameterTensors order and layout
(wte (V, D), wpe (P, D), ln1w, ln1b (L, D), qkvw (L, 3D, D), qkvb (L, 3D), attprojw (L, D, D),
attprojb (L, D), ln2w, ln2b (L, D), fcw (L, 4D, D), fcb (L, 4D), fcprojw (L, D, 4D), fcprojb (L, D),
lnfw, lnfb (D)). Its LayerNorm weights and biases and the projections' biases start perturbed from
GPT-2's ones and zeros, so that each enters the arithmetic and its gradient is tested. The same
recipe, with weight decay on the 2-D tensors (wte, wpe, qkvw, attprojw, fcw, fcprojw) only.

Deterministic (fixed seeds, one thread); a re-run reproduces every byte. Re-run:
    /work/venv/hf/bin/python scripts/golden/make_train_golden.py
"""

import math
import pathlib
import shutil

import numpy as np
import torch

import gpt2_torch
import llama_torch

assert torch.__version__.split("+")[0] == "2.15.0", torch.__version__
assert np.__version__ == "2.4.6", np.__version__
torch.set_num_threads(1)

DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, VOCAB, SEQ, BATCH = 32, 64, 2, 4, 2, 64, 8, 2
EPS, THETA = 1e-5, 10000.0
LR, MIN_LR, WARMUP, STEPS, WD, CLIP = 5e-3, 5e-4, 2, 10, 0.1, 1.0
BETAS, ADAM_EPS = (0.9, 0.95), 1e-8

GOLDEN = pathlib.Path(__file__).resolve().parents[2] / "tests/data/golden/train"
SHAPE = llama_torch.LlamaShape(dim=DIM, hidden=HIDDEN, layers=LAYERS, heads=HEADS,
                               kv_heads=KV_HEADS, vocab=VOCAB, eps=EPS, theta=THETA)
GPT2_POSITIONS = 16
GPT2_SHAPE = gpt2_torch.GPT2Shape(dim=DIM, layers=LAYERS, heads=HEADS, vocab=VOCAB,
                                  positions=GPT2_POSITIONS, eps=EPS)


def lr_at(step):
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    ratio = (step - WARMUP) / (STEPS - WARMUP)
    return MIN_LR + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (LR - MIN_LR)


def llama_loss(dtype):
    cos, sin = llama_torch.rope_tables(SHAPE, SEQ, dtype)
    return lambda p, tokens, targets: llama_torch.loss(SHAPE, p, tokens, targets, cos, sin)


def gpt2_loss(dtype):
    del dtype
    return lambda p, tokens, targets: gpt2_torch.loss(GPT2_SHAPE, p, tokens, targets)


def train(family, init, tokens, targets, dtype):
    names, matrices, make_loss = family
    p = {n: init[n].to(dtype).clone().requires_grad_(True) for n in names}
    loss_of = make_loss(dtype)
    decay = [p[n] for n in names if n in matrices]
    no_decay = [p[n] for n in names if n not in matrices]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=ADAM_EPS, foreach=False)
    grads, snapshots, losses, norms = None, {}, [], []
    for step in range(STEPS):
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        loss = loss_of(p, tokens, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if step == 0:
            grads = {n: p[n].grad.detach().clone() for n in names}
        norm = torch.nn.utils.clip_grad_norm_([p[n] for n in names], CLIP)
        opt.step()
        losses.append(loss.item())
        norms.append(norm.item())
        if step + 1 in (1, STEPS):
            snapshots[step + 1] = {n: p[n].detach().clone() for n in names}
    return grads, snapshots, losses, norms


def save(out, sub, tensors, dtype):
    (out / sub).mkdir(parents=True, exist_ok=True)
    for n, t in tensors.items():
        np.save(out / sub / f"{n}.npy", t.detach().numpy().astype(dtype))


def write(name, family, init, tokens, targets):
    """Trains `family` from `init` in float64 and float32 and writes GOLDEN / name."""
    out = GOLDEN / name
    names = family[0]
    grads64, snaps64, losses64, norms64 = train(family, init, tokens, targets, torch.float64)
    _, snaps32, losses32, _ = train(family, init, tokens, targets, torch.float32)

    if out.exists():
        shutil.rmtree(out)
    save(out, "init", init, np.float32)
    save(out, "grad", grads64, np.float64)
    save(out, "step1", snaps64[1], np.float64)
    save(out, "step10", snaps64[STEPS], np.float64)
    save(out, "step1_f32", snaps32[1], np.float32)
    save(out, "step10_f32", snaps32[STEPS], np.float32)
    np.save(out / "tokens.npy", tokens.numpy().astype(np.int32))
    np.save(out / "targets.npy", targets.numpy().astype(np.int32))
    np.save(out / "losses.npy", np.array(losses64, dtype=np.float64))
    np.save(out / "norms.npy", np.array(norms64, dtype=np.float64))

    def drift(step):
        return max(float((snaps32[step][n].double() - snaps64[step][n]).abs().max() /
                         snaps64[step][n].abs().max()) for n in names)
    print(f"{name}: losses f64: {losses64[0]:.6f} .. {losses64[-1]:.6f}; "
          f"f32 last {losses32[-1]:.6f}")
    print(f"{name}: grad norms f64: {norms64[0]:.6f} .. {norms64[-1]:.6f}")
    print(f"{name}: torch f32 vs f64 params: step 1 max rel {drift(1):.3e}, "
          f"step {STEPS} {drift(STEPS):.3e}")


def batch(generator):
    seq = torch.randint(0, VOCAB, (BATCH, SEQ + 1), generator=generator)
    return seq[:, :-1].contiguous(), seq[:, 1:].contiguous()


def main():
    torch.manual_seed(0)
    init = llama_torch.init_params(SHAPE, torch.Generator().manual_seed(1234))
    tokens, targets = batch(torch.Generator().manual_seed(99))
    write("llama", (llama_torch.NAMES, llama_torch.MATRICES, llama_loss), init, tokens, targets)

    init = gpt2_torch.init_params(GPT2_SHAPE, torch.Generator().manual_seed(4321))
    tokens, targets = batch(torch.Generator().manual_seed(77))
    write("gpt2", (gpt2_torch.NAMES, gpt2_torch.MATRICES, gpt2_loss), init, tokens, targets)


if __name__ == "__main__":
    main()
