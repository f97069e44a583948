"""llama2.c's Llama in plain torch: the model of forma's LlamaTrainer, for its fixtures and peers.

Used by scripts/golden/make_train_golden.py (the trainer's fixtures, stacked parameters) and by
benchmarks/peers/train_pytorch.py (the PyTorch eager peer of benchmarks/bench_train.cpp, one
leaf tensor per layer). llama2.c model.py's arithmetic: RMSNorm x * rsqrt(mean(x^2) + eps) * w,
interleaved RoPE on (real, imaginary) pairs with the angles of precompute_freqs_cis (float32),
GQA by repeating each kv head for its group of query heads, SwiGLU w2(silu(w1 x) * w3 x), no
biases, the classifier tied to the token embedding unless the parameters hold a "classifier".

Parameters are a dict in llama2.c's order (NAMES); each per-layer entry is indexed by the layer,
so it may be one stacked (L, ...) tensor or a list of L tensors.
"""

import dataclasses
import math

import torch
import torch.nn.functional as F

NAMES = ["token_embedding", "rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2", "w3",
         "rms_final"]
MATRICES = {"token_embedding", "wq", "wk", "wv", "wo", "w1", "w2", "w3", "classifier"}


@dataclasses.dataclass(frozen=True)
class LlamaShape:
    dim: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    eps: float = 1e-5
    theta: float = 10000.0

    @property
    def head_dim(self):
        return self.dim // self.heads


def init_params(shape, generator):
    """Stacked float32 parameters: normal(0, 0.02), 0.02/sqrt(2L) for wo and w3, and norm
    weights 1 + normal(0, 0.1) (perturbed so that their gradients are tested). Drawn in float64
    from `generator` in NAMES order."""
    std, res_std = 0.02, 0.02 / math.sqrt(2 * shape.layers)
    D, H, L, V = shape.dim, shape.hidden, shape.layers, shape.vocab
    kv = shape.kv_heads * shape.head_dim

    def normal(size, s):
        return (torch.randn(size, generator=generator, dtype=torch.float64) * s).float()

    def norm_weight(size):
        return (1.0 + 0.1 * torch.randn(size, generator=generator, dtype=torch.float64)).float()

    return {
        "token_embedding": normal((V, D), std),
        "rms_att": norm_weight((L, D)),
        "wq": normal((L, D, D), std),
        "wk": normal((L, kv, D), std),
        "wv": normal((L, kv, D), std),
        "wo": normal((L, D, D), res_std),
        "rms_ffn": norm_weight((L, D)),
        "w1": normal((L, H, D), std),
        "w2": normal((L, D, H), std),
        "w3": normal((L, H, D), res_std),
        "rms_final": norm_weight((D,)),
    }


def rope_tables(shape, seq, dtype):
    """llama2.c precompute_freqs_cis for positions 0..seq-1, in float32; cos and sin taken in the
    run's dtype."""
    hd = shape.head_dim
    freqs = 1.0 / (shape.theta ** (torch.arange(0, hd, 2)[: hd // 2].float() / hd))
    angles = torch.outer(torch.arange(seq, dtype=torch.float32), freqs).float()
    angles = angles.to(dtype)
    return torch.cos(angles), torch.sin(angles)


def apply_rope(x, cos, sin):
    # x (B, T, heads, head_dim); llama2.c apply_rotary_emb on interleaved pairs.
    xr, xi = x.reshape(x.shape[:-1] + (-1, 2)).unbind(-1)
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    out_r = xr * c - xi * s
    out_i = xr * s + xi * c
    return torch.stack([out_r, out_i], dim=-1).flatten(3)


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def loss(shape, p, tokens, targets, cos, sin, attention="explicit"):
    """Mean cross-entropy of the next-token logits over the (B, T) targets. attention:
    "explicit" (scores + causal mask + softmax, llama2.c model.py without flash) or "sdpa"
    (F.scaled_dot_product_attention(is_causal=True), what model.py uses on torch >= 2.0)."""
    B, T = tokens.shape
    D, NH, KV, hd = shape.dim, shape.heads, shape.kv_heads, shape.head_dim
    h = F.embedding(tokens, p["token_embedding"])
    mask = torch.full((T, T), float("-inf"), dtype=h.dtype).triu(1)
    group = NH // KV
    for l in range(shape.layers):
        xn = rmsnorm(h, p["rms_att"][l], shape.eps)
        q = (xn @ p["wq"][l].T).view(B, T, NH, hd)
        k = (xn @ p["wk"][l].T).view(B, T, KV, hd)
        v = (xn @ p["wv"][l].T).view(B, T, KV, hd)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if group > 1:
            k = k.repeat_interleave(group, dim=2)
            v = v.repeat_interleave(group, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if attention == "sdpa":
            att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = q @ k.transpose(2, 3) / math.sqrt(hd) + mask
            att = torch.softmax(scores, dim=-1) @ v
        att = att.transpose(1, 2).reshape(B, T, D)
        h = h + att @ p["wo"][l].T
        xn = rmsnorm(h, p["rms_ffn"][l], shape.eps)
        ff = F.silu(xn @ p["w1"][l].T) * (xn @ p["w3"][l].T)
        h = h + ff @ p["w2"][l].T
    h = rmsnorm(h, p["rms_final"], shape.eps)
    logits = h @ p.get("classifier", p["token_embedding"]).T
    return F.cross_entropy(logits.view(-1, shape.vocab), targets.reshape(-1))
