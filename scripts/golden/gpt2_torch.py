"""GPT-2 in plain torch.nn.functional: the model of forma's GPT2Trainer, for its fixtures.

Used by scripts/golden/make_train_golden.py. Written from the GPT-2 definition (nanoGPT's
model.py, llm.c's train_gpt2.c), independently of forma: token + learned position embeddings;
per layer x = x + c_proj(attention(c_attn(ln_1(x)))) with F.layer_norm (weight and bias),
causal F.scaled_dot_product_attention(is_causal=True) over heads of dim/heads, biases on every
projection; x = x + c_proj(gelu(c_fc(ln_2(x)))) with F.gelu(approximate='tanh'); a final
LayerNorm; the classifier tied to the token embedding.

Parameters are a dict in llm.c's ParameterTensors order (NAMES) and layout: per-layer tensors
stacked on a first axis, matrices (out, in) as torch.nn.Linear stores them (y = x wᵀ + b); the
rows 0..D, D..2D, 2D..3D of qkvw are the query, key and value projections.
"""

import dataclasses
import math

import torch
import torch.nn.functional as F

NAMES = ["wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb", "ln2w", "ln2b",
         "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"]
# The 2-D tensors (per layer): the ones weight decay applies to.
MATRICES = {"wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw"}


@dataclasses.dataclass(frozen=True)
class GPT2Shape:
    dim: int
    layers: int
    heads: int
    vocab: int
    positions: int
    eps: float = 1e-5

    @property
    def hidden(self):
        return 4 * self.dim


def init_params(shape, generator):
    """Stacked float32 parameters: normal(0, 0.02) for wte, wpe and the matrices,
    0.02/sqrt(2L) for the residual projections attprojw and fcprojw; biases normal(0, 0.02),
    LayerNorm weights 1 + normal(0, 0.1) and biases normal(0, 0.05) — all perturbed from GPT-2's
    zeros and ones so that every gradient is tested. Drawn in float64 from `generator` in NAMES
    order."""
    std, res_std = 0.02, 0.02 / math.sqrt(2 * shape.layers)
    D, H, L, V, P = shape.dim, shape.hidden, shape.layers, shape.vocab, shape.positions

    def normal(size, s):
        return (torch.randn(size, generator=generator, dtype=torch.float64) * s).float()

    def norm_weight(size):
        return (1.0 + 0.1 * torch.randn(size, generator=generator, dtype=torch.float64)).float()

    return {
        "wte": normal((V, D), std),
        "wpe": normal((P, D), std),
        "ln1w": norm_weight((L, D)),
        "ln1b": normal((L, D), 0.05),
        "qkvw": normal((L, 3 * D, D), std),
        "qkvb": normal((L, 3 * D), std),
        "attprojw": normal((L, D, D), res_std),
        "attprojb": normal((L, D), std),
        "ln2w": norm_weight((L, D)),
        "ln2b": normal((L, D), 0.05),
        "fcw": normal((L, H, D), std),
        "fcb": normal((L, H), std),
        "fcprojw": normal((L, D, H), res_std),
        "fcprojb": normal((L, D), std),
        "lnfw": norm_weight((D,)),
        "lnfb": normal((D,), 0.05),
    }


def logits(shape, p, tokens):
    """The (B, T, V) next-token logits of the (B, T) tokens; row t is at position t."""
    B, T = tokens.shape
    D, NH = shape.dim, shape.heads
    hd = D // NH
    x = F.embedding(tokens, p["wte"]) + p["wpe"][:T][None, :, :]
    for l in range(shape.layers):
        h = F.layer_norm(x, (D,), p["ln1w"][l], p["ln1b"][l], shape.eps)
        qkv = F.linear(h, p["qkvw"][l], p["qkvb"][l])
        q, k, v = qkv.split(D, dim=-1)
        q = q.view(B, T, NH, hd).transpose(1, 2)
        k = k.view(B, T, NH, hd).transpose(1, 2)
        v = v.view(B, T, NH, hd).transpose(1, 2)
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        att = att.transpose(1, 2).reshape(B, T, D)
        x = x + F.linear(att, p["attprojw"][l], p["attprojb"][l])
        h = F.layer_norm(x, (D,), p["ln2w"][l], p["ln2b"][l], shape.eps)
        h = F.gelu(F.linear(h, p["fcw"][l], p["fcb"][l]), approximate="tanh")
        x = x + F.linear(h, p["fcprojw"][l], p["fcprojb"][l])
    x = F.layer_norm(x, (D,), p["lnfw"], p["lnfb"], shape.eps)
    return F.linear(x, p["wte"])


def loss(shape, p, tokens, targets):
    """Mean cross-entropy of the next-token logits over the (B, T) targets."""
    out = logits(shape, p, tokens)
    return F.cross_entropy(out.view(-1, shape.vocab), targets.reshape(-1))
