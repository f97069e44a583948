#!/work/venv/hf/bin/python
"""PyTorch autograd fixtures for forma's backward ops (tests/unit/train/golden.cpp).

Writes tests/data/golden/backward/<case>/<tensor>.npy: the inputs and the upstream gradient in
float32 (what forma's float ops read), and PyTorch's gradients in float64 — autograd run in
float64 on those same float32 values, so the fixture measures forma's error and not its own
rounding. The references are PyTorch's modules and functions:

  linear         F.linear (weight and bias), T = 1 and T > 1
  embedding      F.embedding with repeated ids; learned positions (GPT-2's wpe) as F.embedding
                 of arange(first, first + T)
  rmsnorm        the Llama RMSNorm written in torch (x * rsqrt(mean(x^2) + eps) * w)
  layernorm      F.layer_norm (weight, bias, eps 1e-5)
  rope           Meta's apply_rotary_emb (view_as_complex · polar) for interleaved pairs and
                 Hugging Face's rotate_half for split halves; angles in float32 as both compute them
  softmax        torch.softmax (its output y, which softmax_backward takes, saved in float64 too)
  activations    F.silu, F.gelu(approximate='none' / 'tanh'), SwiGLU as F.silu(gate) * up
  attention      F.scaled_dot_product_attention(is_causal=True) with kv heads repeated per query
                 head (Meta's repeat_kv) for GQA / MQA; lse = logsumexp of the masked scores
  cross_entropy  F.cross_entropy(reduction='mean', ignore_index=-100)

Everything runs on the CPU on one thread from fixed seeds, so a re-run reproduces the files byte
for byte (`git status tests/data/golden/backward` shows nothing afterwards). Re-run:
    /work/venv/hf/bin/python scripts/golden/make_backward_golden.py
The script asserts the versions it was written with (torch 2.15.0, numpy 2.4.6); a different
version may round differently. It replaces tests/data/golden/backward/ entirely.
"""

import math
import pathlib
import shutil

import numpy as np
import torch
import torch.nn.functional as F

TORCH_VERSION = "2.15.0"
NUMPY_VERSION = "2.4.6"
assert torch.__version__.split("+")[0] == TORCH_VERSION, f"torch {torch.__version__}, expected {TORCH_VERSION}"
assert np.__version__ == NUMPY_VERSION, f"numpy {np.__version__}, expected {NUMPY_VERSION}"

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "golden" / "backward"


def save(case, inputs=None, grads=None, ids=None):
    folder = OUT / case
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in (inputs or {}).items():
        np.save(folder / f"{name}.npy", np.ascontiguousarray(value.detach().numpy().astype(np.float32)))
    for name, value in (grads or {}).items():
        np.save(folder / f"{name}.npy", np.ascontiguousarray(value.detach().numpy().astype(np.float64)))
    for name, value in (ids or {}).items():
        np.save(folder / f"{name}.npy", np.ascontiguousarray(np.asarray(value, dtype=np.int32)))


def uniform(*shape, low=-1.0, high=1.0):
    """float32 values, returned as float64 leaves that require grad (exact widenings)."""
    return torch.empty(*shape, dtype=torch.float32).uniform_(low, high).double().requires_grad_()


def backward(output, upstream, *leaves):
    return torch.autograd.grad(output, leaves, upstream)


def make_linear():
    torch.manual_seed(1)
    for name, rows, inputs, outputs in (("t1", 1, 6, 5), ("t4", 4, 12, 7)):
        x, w, b = uniform(rows, inputs), uniform(outputs, inputs), uniform(outputs)
        dy = uniform(rows, outputs)
        dx, dw, db = backward(F.linear(x, w, b), dy, x, w, b)
        save(f"linear/{name}", {"x": x, "w": w, "dy": dy}, {"dx": dx, "dw": dw, "db": db})


def make_embedding():
    torch.manual_seed(2)
    table = uniform(7, 5)
    ids = torch.tensor([3, 0, 3, 6, 3, 1])
    dy = uniform(len(ids), 5)
    (dtable,) = backward(F.embedding(ids, table), dy, table)
    save("embedding/tokens", {"dy": dy}, {"dtable": dtable}, {"ids": ids})
    wpe = uniform(8, 5)
    first, tokens = 2, 4
    dy = uniform(tokens, 5)
    (dwpe,) = backward(F.embedding(torch.arange(first, first + tokens), wpe), dy, wpe)
    save("embedding/positions", {"dy": dy}, {"dtable": dwpe}, {"first": [first]})


def make_norms():
    torch.manual_seed(3)
    for name, rows, width in (("d16", 1, 16), ("d72", 3, 72)):
        x, w, dy = uniform(rows, width, low=-2, high=2), uniform(width, low=0.5, high=1.5), uniform(rows, width)
        y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w
        dx, dw = backward(y, dy, x, w)
        save(f"rmsnorm/{name}", {"x": x, "weight": w, "dy": dy}, {"dx": dx, "dweight": dw})
    for name, rows, width in (("d16", 1, 16), ("d72", 3, 72)):
        x, dy = uniform(rows, width, low=-3, high=5), uniform(rows, width)
        w, b = uniform(width, low=0.5, high=1.5), uniform(width, low=-0.5, high=0.5)
        dx, dw, db = backward(F.layer_norm(x, (width,), w, b, 1e-5), dy, x, w, b)
        save(f"layernorm/{name}", {"x": x, "weight": w, "bias": b, "dy": dy},
             {"dx": dx, "dweight": dw, "dbias": db})


def rope_angles(head_dim, first, tokens, theta=10000.0):
    # float32 frequencies and angles, as Meta's precompute_freqs_cis and HF's rotary embedding.
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 2)[: head_dim // 2].float() / head_dim))
    t = torch.arange(first, first + tokens, dtype=torch.float32)
    return torch.outer(t, freqs).double()  # (T, Dh/2)


def rope_interleaved(x, angles):
    # Meta's apply_rotary_emb: pairs (2i, 2i+1) as complex numbers times polar(1, angle).
    freqs_cis = torch.polar(torch.ones_like(angles), angles)[:, None, :]
    xc = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(xc * freqs_cis).flatten(-2)


def rope_half(x, angles):
    # Hugging Face: x * cos + rotate_half(x) * sin, with cos/sin repeated over both halves.
    cos = torch.cat((angles.cos(), angles.cos()), -1)[:, None, :]
    sin = torch.cat((angles.sin(), angles.sin()), -1)[:, None, :]
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), -1)
    return x * cos + rotated * sin


def make_rope():
    torch.manual_seed(4)
    tokens, heads, head_dim, first = 4, 3, 8, 5
    for name, fn in (("interleaved", rope_interleaved), ("half", rope_half)):
        x, dy = uniform(tokens, heads, head_dim), uniform(tokens, heads, head_dim)
        (dx,) = backward(fn(x, rope_angles(head_dim, first, tokens)), dy, x)
        save(f"rope/{name}", {"x": x, "dy": dy}, {"dx": dx}, {"first": [first]})


def make_softmax_activations():
    torch.manual_seed(5)
    x, dy = uniform(3, 7, low=-4, high=4), uniform(3, 7)
    y = torch.softmax(x, -1)
    (dx,) = backward(y, dy, x)
    save("softmax", {"x": x, "dy": dy}, {"y": y, "dx": dx})  # y: the forward's output, float64
    x, dy = uniform(64, low=-6, high=6), uniform(64)
    grads = {}
    for name, fn in (("silu", F.silu), ("gelu", lambda v: F.gelu(v, approximate="none")),
                     ("gelu_tanh", lambda v: F.gelu(v, approximate="tanh"))):
        (grads[f"d_{name}"],) = backward(fn(x), dy, x)
    gate, up, dswiglu = uniform(3, 11, low=-6, high=6), uniform(3, 11, low=-2, high=2), uniform(3, 11)
    grads["dgate"], grads["dup"] = backward(F.silu(gate) * up, dswiglu, gate, up)
    save("activation", {"x": x, "dy": dy, "gate": gate, "up": up, "dswiglu": dswiglu}, grads)


def make_attention():
    torch.manual_seed(6)
    for name, tokens, heads, kv_heads, head_dim in (("mha_t1", 1, 2, 2, 8), ("gqa", 5, 4, 2, 8),
                                                     ("mqa", 6, 4, 1, 8), ("mha", 4, 3, 3, 6)):
        q = uniform(tokens, heads, head_dim, low=-2, high=2)
        k = uniform(tokens, kv_heads, head_dim, low=-2, high=2)
        v = uniform(tokens, kv_heads, head_dim)
        do = uniform(tokens, heads, head_dim)
        group = heads // kv_heads
        # (H, T, Dh) per head, kv heads repeated for the query heads that share them.
        qh = q.transpose(0, 1)
        kh = k.repeat_interleave(group, dim=1).transpose(0, 1)
        vh = v.repeat_interleave(group, dim=1).transpose(0, 1)
        o = F.scaled_dot_product_attention(qh, kh, vh, is_causal=True).transpose(0, 1)
        scores = qh @ kh.transpose(-1, -2) / math.sqrt(head_dim)
        mask = torch.ones(tokens, tokens, dtype=torch.bool).tril()
        lse = torch.logsumexp(scores.masked_fill(~mask, -math.inf), -1).transpose(0, 1)  # (T, H)
        dq, dk, dv = backward(o, do, q, k, v)
        save(f"attention/{name}", {"q": q, "k": k, "v": v, "do": do},
             {"o": o, "lse": lse, "dq": dq, "dk": dk, "dv": dv})


def make_cross_entropy():
    torch.manual_seed(7)
    logits = uniform(5, 11, low=-6, high=6)
    targets = torch.tensor([3, -100, 10, 0, 3])
    loss = F.cross_entropy(logits, targets, reduction="mean", ignore_index=-100)
    (dlogits,) = torch.autograd.grad(loss, logits)
    save("cross_entropy", {"logits": logits}, {"loss": loss.reshape(1), "dlogits": dlogits},
         {"targets": targets})


def main():
    torch.set_num_threads(1)
    if OUT.exists():
        shutil.rmtree(OUT)
    make_linear()
    make_embedding()
    make_norms()
    make_rope()
    make_softmax_activations()
    make_attention()
    make_cross_entropy()


if __name__ == "__main__":
    main()
