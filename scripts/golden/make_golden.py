#!/usr/bin/python3
"""Golden fixtures for forma's transformer ops and nn blocks, computed by PyTorch.

Writes tests/data/golden/<case>/<tensor>.npy (float32 or int32, C order): the inputs, the weights
and PyTorch's outputs, read by tests/golden/*.cpp. The references are PyTorch's own modules and
functions wherever PyTorch has one:

  softmax        torch.softmax (masked entries set to -inf for the causal / valid-length cases)
  rmsnorm        an RMSNorm written in torch the Llama way (x * rsqrt(mean(x^2) + eps) * w);
                 PyTorch 1.13 has no RMSNorm module
  layernorm      torch.nn.LayerNorm
  activations    F.gelu(approximate='none' / 'tanh'), F.silu; SwiGLU as F.silu(gate) * up
  rope           Meta's apply_rotary_emb (torch.polar + complex multiplication) for interleaved
                 pairs; Hugging Face's rotate_half for split halves
  embedding      torch.nn.Embedding
  residual       torch.add (stream + branch)
  cross_entropy  F.cross_entropy (reduction 'mean' and 'none')
  linear         torch.nn.Linear (with and without bias, T = 1 and T > 1)
  feed_forward   nn.Linear layers: w2(F.silu(w1 x) * w3 x) (SwiGLU); proj(F.gelu(fc x)) with
                 approximate='tanh' and 'none' (GELU MLPs)
  attention      F._scaled_dot_product_attention with a boolean causal mask (PyTorch 1.13's name
                 for what 2.x exports as F.scaled_dot_product_attention), keys and values
                 repeated per query head for GQA / MQA as Meta's repeat_kv does
  attention_layer  the Llama attention layer alone (nn.Linear wq/wk/wv/wo, RoPE, the attention
                 above, as in the llama blocks); torch.nn.MultiheadAttention (biases, causal
                 mask) for GPT-2's
  llama blocks   Meta's llama TransformerBlock structure in torch: RMSNorm, nn.Linear (no bias),
                 RoPE (either layout), repeat_kv, the attention above, F.silu(w1 x) * w3 x -> w2
  gpt2 blocks    nn.Embedding (tokens and learned positions), nn.LayerNorm,
                 nn.MultiheadAttention (bias, causal mask), nn.Linear + F.gelu(approximate='tanh')

Everything runs in float32 on one CPU thread from fixed seeds (one per generator function or per
block case), so a re-run reproduces the files bit for bit: `git status tests/data/golden` shows
nothing afterwards.

Re-run (only when a case is added or changed; CI reads the committed files and needs no PyTorch):
    /usr/bin/python3 scripts/golden/make_golden.py
PyTorch and NumPy come from Debian (apt install python3-torch python3-numpy); the script was run
with torch 1.13 and numpy 1.24. It replaces tests/data/golden/ entirely, except backward/
(scripts/golden/make_backward_golden.py's).
"""

import math
import pathlib
import shutil

import numpy as np
import torch
import torch.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "golden"


def save(case, **arrays):
    folder = OUT / case
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in arrays.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().numpy()
        value = np.ascontiguousarray(value)
        if value.dtype.kind == "f":
            value = value.astype(np.float32)
        elif value.dtype.kind in "iu":
            value = value.astype(np.int32)
        np.save(folder / f"{name}.npy", value)


def uniform(*shape, low=-1.0, high=1.0):
    return torch.empty(*shape).uniform_(low, high)


# ---- ops --------------------------------------------------------------------------------------

def make_softmax():
    torch.manual_seed(1)
    x = uniform(4, 7, low=-8, high=8)
    edge = torch.tensor([1e4, -1e4, 0.0])
    causal_x = uniform(5, 8, low=-3, high=3)
    offset = 3
    allowed = torch.tensor([[j <= r + offset for j in range(8)] for r in range(5)])
    valid_x = uniform(2, 6, low=-3, high=3)
    valid = torch.zeros(2, 6, dtype=torch.bool)
    valid[:, :4] = True
    save("softmax", x=x, y=torch.softmax(x, -1), edge_x=edge, edge_y=torch.softmax(edge, -1),
         causal_x=causal_x, causal_y=torch.softmax(causal_x.masked_fill(~allowed, -math.inf), -1),
         valid_x=valid_x, valid_y=torch.softmax(valid_x.masked_fill(~valid, -math.inf), -1))


def llama_rmsnorm(x, weight, eps):
    # Meta's llama RMSNorm: x * rsqrt(mean(x^2) + eps), then the weight.
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def make_norms():
    torch.manual_seed(2)
    for name, rows, width in (("d72", 3, 72), ("d64", 5, 64)):
        x = uniform(rows, width, low=-2, high=2)
        w = uniform(width, low=0.5, high=1.5)
        save(f"rmsnorm/{name}", x=x, weight=w, y=llama_rmsnorm(x, w, 1e-5))
    zeros = torch.zeros(2, 64)
    w = uniform(64, low=0.5, high=1.5)
    save("rmsnorm/zeros", x=zeros, weight=w, y=llama_rmsnorm(zeros, w, 1e-5))
    for name, rows, width in (("d72", 3, 72), ("d172", 4, 172)):
        norm = torch.nn.LayerNorm(width, eps=1e-5)
        with torch.no_grad():
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
        x = uniform(rows, width, low=-3, high=5)
        save(f"layernorm/{name}", x=x, weight=norm.weight, bias=norm.bias, y=norm(x))


def make_activations():
    torch.manual_seed(3)
    x = uniform(1000, low=-8, high=8)
    gate = uniform(3, 172, low=-6, high=6)
    up = uniform(3, 172, low=-2, high=2)
    save("activation", x=x, gelu=F.gelu(x, approximate="none"),
         gelu_tanh=F.gelu(x, approximate="tanh"), silu=F.silu(x), gate=gate, up=up,
         swiglu=F.silu(gate) * up)


def meta_freqs_cis(head_dim, positions, theta):
    # Meta's precompute_freqs_cis, for the given positions.
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 2)[: head_dim // 2].float() / head_dim))
    angles = torch.outer(positions.float(), freqs).float()
    return torch.polar(torch.ones_like(angles), angles)


def rope_interleaved(x, positions, theta):
    # Meta's apply_rotary_emb for x (T, H, Dh): pairs (2i, 2i+1) as complex numbers.
    freqs_cis = meta_freqs_cis(x.shape[-1], positions, theta)
    x_complex = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(x_complex * freqs_cis[:, None, :]).flatten(-2)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_half(x, positions, theta):
    # Hugging Face's rotary embedding for x (T, H, Dh): pairs (i, i + Dh/2).
    head_dim = x.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2).float() / head_dim))
    freqs = torch.outer(positions.float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]
    return x * cos + rotate_half(x) * sin


def make_rope():
    torch.manual_seed(4)
    for name, rows, heads, head_dim, first, theta in (
            ("small", 5, 3, 16, 7, 10000.0),
            ("theta500k", 6, 4, 18, 2, 500000.0),
            ("start0", 4, 2, 8, 0, 10000.0),
            ("far", 3, 2, 64, 500, 10000.0)):
        x = uniform(rows, heads, head_dim, low=-2, high=2)
        positions = torch.arange(first, first + rows)
        save(f"rope/{name}", x=x, first=np.array([first]), theta=np.array([theta], np.float32),
             interleaved=rope_interleaved(x, positions, theta), half=rope_half(x, positions, theta))


def make_embedding():
    torch.manual_seed(5)
    table = torch.nn.Embedding(50, 72)
    ids = torch.tensor([3, 49, 0, 17, 17, 8, 21])
    save("embedding", table=table.weight, ids=ids, y=table(ids))


def make_residual():
    torch.manual_seed(10)
    stream = uniform(5, 72, low=-4, high=4)
    branch = uniform(5, 72, low=-1, high=1)
    save("residual", stream=stream, branch=branch, y=torch.add(stream, branch))


def make_cross_entropy():
    torch.manual_seed(6)
    logits = uniform(6, 50, low=-10, high=10)
    logits[2, 7] = 80.0
    targets = torch.tensor([0, 49, 7, 13, 13, 21])
    save("cross_entropy", logits=logits, targets=targets,
         mean=F.cross_entropy(logits, targets).reshape(1),
         losses=F.cross_entropy(logits, targets, reduction="none"))


def make_linear():
    for name, seed, rows, inputs, outputs, bias in (
            ("d72_172_bias", 11, 5, 72, 172, True),
            ("d72_172_bias_t1", 12, 1, 72, 172, True),
            ("d172_72", 13, 3, 172, 72, False)):
        torch.manual_seed(seed)
        layer = torch.nn.Linear(inputs, outputs, bias=bias)
        x = uniform(rows, inputs)
        with torch.no_grad():
            y = layer(x)
        extra = {"bias": layer.bias} if bias else {}
        save(f"linear/{name}", x=x, weight=layer.weight, y=y, **extra)


def make_feed_forward():
    dim, hidden, rows = 72, 172, 5
    torch.manual_seed(14)
    w1 = torch.nn.Linear(dim, hidden, bias=False)
    w2 = torch.nn.Linear(hidden, dim, bias=False)
    w3 = torch.nn.Linear(dim, hidden, bias=False)
    x = uniform(rows, dim)
    with torch.no_grad():
        y = w2(F.silu(w1(x)) * w3(x))
    save("feed_forward/swiglu", x=x, w1=w1.weight, w2=w2.weight, w3=w3.weight, y=y)
    for seed, approximate in ((15, "tanh"), (16, "none")):
        torch.manual_seed(seed)
        fc = torch.nn.Linear(dim, hidden)
        proj = torch.nn.Linear(hidden, dim)
        x = uniform(rows, dim)
        with torch.no_grad():
            y = proj(F.gelu(fc(x), approximate=approximate))
        save(f"feed_forward/gelu_{'erf' if approximate == 'none' else 'tanh'}", x=x,
             fc=fc.weight, fc_bias=fc.bias, proj=proj.weight, proj_bias=proj.bias, y=y)


def repeat_kv(x, group):
    # (L, KVH, Dh) -> (L, KVH * group, Dh): each kv head serves `group` query heads (Meta's repeat_kv).
    return x.repeat_interleave(group, dim=1)


def causal_attention(q, keys, values, first):
    # q (T, H, Dh) at positions first .. first+T-1; keys, values (L, KVH, Dh).
    T, H, _ = q.shape
    L, KVH, _ = keys.shape
    allowed = torch.tensor([[j <= first + i for j in range(L)] for i in range(T)])
    k = repeat_kv(keys, H // KVH).transpose(0, 1)[None]
    v = repeat_kv(values, H // KVH).transpose(0, 1)[None]
    out = F._scaled_dot_product_attention(q.transpose(0, 1)[None], k, v, allowed, 0.0, False, False)[0]
    # The boolean mask's meaning (True = may attend) checked against the formula once per call.
    scores = (q.transpose(0, 1)[None] @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    manual = torch.softmax(scores.masked_fill(~allowed, -math.inf), -1) @ v
    assert torch.allclose(out, manual, atol=1e-6), "unexpected _scaled_dot_product_attention mask semantics"
    return out[0].transpose(0, 1).contiguous()


def make_attention():
    torch.manual_seed(7)
    for heads, kv_heads, head_dim in ((8, 8, 9), (8, 4, 8), (8, 1, 8)):
        for name, T, length in (("decode_first", 1, 1), ("decode", 1, 5), ("prefill", 7, 7),
                                ("offset", 4, 11), ("full", 16, 16)):
            q = uniform(T, heads, head_dim, low=-2, high=2)
            keys = uniform(length, kv_heads, head_dim, low=-2, high=2)
            values = uniform(length, kv_heads, head_dim)
            save(f"attention/h{heads}_kv{kv_heads}/{name}", q=q, keys=keys, values=values,
                 out=causal_attention(q, keys, values, length - T))


# ---- layers and blocks ------------------------------------------------------------------------

def llama_attention(h, wq, wk, wv, wo, heads, kv_heads, theta, layout):
    # Meta's llama Attention.forward for one sequence at positions 0 .. T-1, h (T, D).
    T, head_dim = h.shape[0], wq.out_features // heads
    positions = torch.arange(T)
    rope = rope_interleaved if layout == "interleaved" else rope_half
    q = rope(wq(h).view(T, heads, head_dim), positions, theta)
    k = rope(wk(h).view(T, kv_heads, head_dim), positions, theta)
    v = wv(h).view(T, kv_heads, head_dim)
    return wo(causal_attention(q, k, v, 0).reshape(T, -1))


def make_attention_layers():
    torch.manual_seed(17)
    dim, heads, kv_heads, T = 72, 4, 2, 9
    head_dim = dim // heads
    wq = torch.nn.Linear(dim, heads * head_dim, bias=False)
    wk = torch.nn.Linear(dim, kv_heads * head_dim, bias=False)
    wv = torch.nn.Linear(dim, kv_heads * head_dim, bias=False)
    wo = torch.nn.Linear(heads * head_dim, dim, bias=False)
    x = uniform(T, dim)
    with torch.no_grad():
        y = llama_attention(x, wq, wk, wv, wo, heads, kv_heads, 10000.0, "interleaved")
    save("attention_layer/llama_d72_4_2", x=x, wq=wq.weight, wk=wk.weight, wv=wv.weight,
         wo=wo.weight, y=y)

    torch.manual_seed(18)
    dim, heads, T = 72, 8, 11
    attn = torch.nn.MultiheadAttention(dim, heads, bias=True, batch_first=True)
    with torch.no_grad():
        attn.in_proj_bias.uniform_(-0.1, 0.1)
        attn.out_proj.bias.uniform_(-0.1, 0.1)
    x = uniform(T, dim)
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # True: masked out
    with torch.no_grad():
        y = attn(x[None], x[None], x[None], attn_mask=future, need_weights=False)[0][0]
    wq, wk, wv = attn.in_proj_weight.chunk(3)
    bq, bk, bv = attn.in_proj_bias.chunk(3)
    save("attention_layer/mha_d72_h8_bias", x=x, wq=wq, wk=wk, wv=wv, wo=attn.out_proj.weight,
         bq=bq, bk=bk, bv=bv, bo=attn.out_proj.bias, y=y)


class LlamaBlock(torch.nn.Module):
    """Meta's llama TransformerBlock (model.py) for one sequence, without a KV cache."""

    def __init__(self, dim, hidden, heads, kv_heads, theta, layout, eps=1e-5):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dim // heads
        self.theta, self.layout, self.eps = theta, layout, eps
        self.attention_norm = torch.nn.Parameter(torch.empty(dim).uniform_(0.5, 1.5))
        self.ffn_norm = torch.nn.Parameter(torch.empty(dim).uniform_(0.5, 1.5))
        self.wq = torch.nn.Linear(dim, heads * self.head_dim, bias=False)
        self.wk = torch.nn.Linear(dim, kv_heads * self.head_dim, bias=False)
        self.wv = torch.nn.Linear(dim, kv_heads * self.head_dim, bias=False)
        self.wo = torch.nn.Linear(heads * self.head_dim, dim, bias=False)
        self.w1 = torch.nn.Linear(dim, hidden, bias=False)
        self.w2 = torch.nn.Linear(hidden, dim, bias=False)
        self.w3 = torch.nn.Linear(dim, hidden, bias=False)

    def forward(self, x):
        h = llama_rmsnorm(x, self.attention_norm, self.eps)
        x = x + llama_attention(h, self.wq, self.wk, self.wv, self.wo, self.heads, self.kv_heads,
                                self.theta, self.layout)
        h = llama_rmsnorm(x, self.ffn_norm, self.eps)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


def make_llama_blocks():
    for name, seed, dim, hidden, heads, kv_heads, T, theta, layout in (
            ("gqa_8_4", 101, 64, 172, 8, 4, 12, 10000.0, "interleaved"),
            ("mqa_8_1", 102, 64, 172, 8, 1, 12, 10000.0, "interleaved"),
            ("mha_8_8_t1", 103, 64, 172, 8, 8, 1, 10000.0, "interleaved"),
            ("d72_4_2", 104, 72, 172, 4, 2, 9, 10000.0, "interleaved"),
            ("half_theta500k", 105, 64, 96, 4, 2, 10, 500000.0, "half")):
        torch.manual_seed(seed)
        block = LlamaBlock(dim, hidden, heads, kv_heads, theta, layout)
        x = uniform(T, dim)
        with torch.no_grad():
            y = block(x)
        save(f"llama_block/{name}", x=x, y=y, attention_norm=block.attention_norm,
             wq=block.wq.weight, wk=block.wk.weight, wv=block.wv.weight, wo=block.wo.weight,
             ffn_norm=block.ffn_norm, w1=block.w1.weight, w2=block.w2.weight, w3=block.w3.weight)


class GPT2Block(torch.nn.Module):
    """GPT-2's block: pre-LayerNorm, causal multi-head attention and a GELU (tanh) MLP, with biases."""

    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(dim, eps=1e-5)
        self.attn = torch.nn.MultiheadAttention(dim, heads, bias=True, batch_first=True)
        self.ln_2 = torch.nn.LayerNorm(dim, eps=1e-5)
        self.fc = torch.nn.Linear(dim, hidden)
        self.proj = torch.nn.Linear(hidden, dim)
        with torch.no_grad():
            for p in (self.ln_1.weight, self.ln_2.weight):
                p.uniform_(0.5, 1.5)
            for p in (self.ln_1.bias, self.ln_2.bias, self.attn.in_proj_bias, self.attn.out_proj.bias):
                p.uniform_(-0.1, 0.1)

    def forward(self, x):
        T = x.shape[0]
        future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # True: masked out
        h = self.ln_1(x)[None]
        attended, _ = self.attn(h, h, h, attn_mask=future, need_weights=False)
        x = x + attended[0]
        return x + self.proj(F.gelu(self.fc(self.ln_2(x)), approximate="tanh"))


def make_gpt2_blocks():
    for name, dim, heads, hidden, vocab, max_seq, T in (
            ("d72_h8", 72, 8, 172, 60, 16, 16),
            ("d64_h4_t1", 64, 4, 256, 40, 8, 1)):
        torch.manual_seed(200 + dim)
        wte = torch.nn.Embedding(vocab, dim)
        wpe = torch.nn.Embedding(max_seq, dim)
        with torch.no_grad():
            wte.weight.mul_(0.5)
            wpe.weight.mul_(0.1)
        block = GPT2Block(dim, heads, hidden)
        tokens = torch.randint(0, vocab, (T,))
        with torch.no_grad():
            x = wte(tokens) + wpe(torch.arange(T))
            y = block(x)
        wq, wk, wv = block.attn.in_proj_weight.chunk(3)
        bq, bk, bv = block.attn.in_proj_bias.chunk(3)
        save(f"gpt2_block/{name}", tokens=tokens, wte=wte.weight, wpe=wpe.weight, x=x, y=y,
             ln_1_weight=block.ln_1.weight, ln_1_bias=block.ln_1.bias, wq=wq, wk=wk, wv=wv,
             bq=bq, bk=bk, bv=bv, wo=block.attn.out_proj.weight, bo=block.attn.out_proj.bias,
             ln_2_weight=block.ln_2.weight, ln_2_bias=block.ln_2.bias, fc=block.fc.weight,
             fc_bias=block.fc.bias, proj=block.proj.weight, proj_bias=block.proj.bias)


def main():
    torch.set_num_threads(1)
    if OUT.exists():
        # backward/ is make_backward_golden.py's (PyTorch autograd fixtures); keep it.
        for child in OUT.iterdir():
            if child.name != "backward":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    make_softmax()
    make_norms()
    make_activations()
    make_rope()
    make_embedding()
    make_residual()
    make_cross_entropy()
    make_linear()
    make_feed_forward()
    make_attention()
    make_attention_layers()
    make_llama_blocks()
    make_gpt2_blocks()
    total = sum(p.stat().st_size for p in OUT.rglob("*.npy"))
    count = len(list(OUT.rglob("*.npy")))
    print(f"wrote {count} files, {total / 1e6:.2f} MB, under {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
