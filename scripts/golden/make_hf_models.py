#!/usr/bin/env python3
"""Tiny Hugging Face / llm.c model fixtures and their expected logits, computed by transformers.

Writes tests/data/hf/ (replacing it entirely):

  llama_tiny/        LlamaForCausalLM, float32, save_pretrained as transformers 5 writes it
                     (config.json with "rope_parameters", one model.safetensors)
  llama_tiny_v4/     the same weights the way transformers 4 wrote them: config.json with a
                     top-level "rope_theta" and "torch_dtype", two shards + model.safetensors.index.json,
                     and a model.layers.{i}.self_attn.rotary_emb.inv_freq buffer per layer
  qwen2_tiny/        Qwen2ForCausalLM (q/k/v biases, tied embeddings), stored in bfloat16
  gpt2_tiny/         GPT2LMHeadModel (vocab 50257), stored in float16, plus GPT-2's real tokenizer
                     (vocab.json, merges.txt, tokenizer.json, tokenizer_config.json)
  gpt2_hub_style/    the same GPT-2 weights laid out like the Hub's openai-community/gpt2
                     model.safetensors (bare names, h.{i}.attn.bias / masked_bias buffers, no lm_head)
  gpt2_llmc_v3.bin   llm.c GPT-2 checkpoint, version 3 (float32 params, padded vocab)
  gpt2_llmc_v5.bin   the same, version 5 (bfloat16 params)
  expected/          NAME.tokens.npy, NAME.logits.npy, NAME.logits64.npy, NAME.greedy.npy for
                     NAME in llama_tiny, qwen2_tiny, gpt2_tiny, gpt2_llmc; README.md
  README.md          provenance, file list with sizes and sha256, what each fixture exercises

All weights are random (no trained model is involved), drawn from fixed torch.Generator seeds and
redrawn large enough that the logits are not flat: matrices and embeddings N(0, 0.08), norm weights
1 + N(0, 0.1), biases N(0, 0.1) (Qwen2 q/k/v) or N(0, 0.05) (GPT-2). A model stored in a 16-bit type
has its weights rounded to that type first (round to nearest even, torch's conversion), and its
expected values are computed in float32 / float64 from exactly the rounded values.

Expected values (see expected/README.md, which this script also writes):
  logits    model(input_ids).logits of the float32 model in eval mode, eager attention, one forward
            pass over all T tokens
  logits64  the same in float64: a deep copy with .double() and SDPA attention. transformers' Llama /
            Qwen2 code upcasts to float32 inside RMSNorm, RoPE's cos/sin and eager softmax even when the
            model is float64, so for this pass the script swaps in float64 versions of RMSNorm.forward
            and RotaryEmbedding.forward (same formulas, inv_freq recomputed in float64) and uses SDPA,
            which keeps float64; the result is a float64 reference, not a float32 one widened
  greedy    the 16 new ids of model.generate(input_ids[:, :4], do_sample=False, max_new_tokens=16,
            min_new_tokens=16, eos_token_id=None, pad_token_id=0) on the float32 model (generation
            config's eos/bos cleared so min_new_tokens suppresses nothing); checked against a plain
            argmax loop in float32 and in float64

The llm.c files follow llm.c's train_gpt2.py `write_model` / `write_tensors` and train_gpt2.c's
gpt2_build_from_checkpoint (github.com/karpathy/llm.c): a header of 256 int32 [20240326, version,
maxT, V, L, NH, C, Vp, 0...], version 3 = float32 / 5 = bfloat16 parameters, the vocabulary padded to
Vp = the next multiple of 128 with zero rows, then wte (Vp,C), wpe (maxT,C), ln1w (L,C), ln1b (L,C),
qkvw (L,3C,C), qkvb (L,3C), attprojw (L,C,C), attprojb (L,C), ln2w (L,C), ln2b (L,C), fcw (L,4C,C),
fcb (L,4C), fcprojw (L,C,4C), fcprojb (L,C), lnfw (C), lnfb (C); the matrices (out, in), i.e. the
transpose of Hugging Face's Conv1D [in, out]. Written here from that description (no code copied).

GPT-2's tokenizer files are OpenAI's encoder.json and vocab.bpe (MIT), copied byte for byte from
shared/tokenizers/gpt2/ (see PROVENANCE.md there) as vocab.json and merges.txt.

Run (only when a fixture is added or changed; the C++ tests read the committed files):
    /work/venv/hf/bin/python scripts/golden/make_hf_models.py
or with any Python that has
    pip install torch==2.15.0 transformers==5.25.0 safetensors==0.8.0 tokenizers==0.23.3 numpy
The script asserts torch 2.15.0, transformers 5.25.0, safetensors 0.8.0 and tokenizers 0.23.x at
start. It runs on the CPU with one thread and fixed seeds, so a re-run reproduces every file bit for
bit (checked: two runs, identical sha256 for every file). Reads the GPT-2 vocabulary from
shared/tokenizers/gpt2/ (in the checkout or next to it) or $FORMA_GPT2_TOKENIZER_DIR.
"""

import copy
import hashlib
import json
import os
import pathlib
import shutil
import struct
import sys
import tempfile

import numpy as np
import safetensors
import safetensors.torch
import tokenizers
import torch
import transformers

PINNED = {"torch": "2.15.0", "transformers": "5.25.0", "safetensors": "0.8.0"}


def check_versions():
    found = {
        "torch": torch.__version__.split("+")[0],
        "transformers": transformers.__version__,
        "safetensors": safetensors.__version__,
    }
    for name, want in PINNED.items():
        if found[name] != want:
            sys.exit(f"make_hf_models.py: needs {name}=={want}, found {found[name]}")
    if not tokenizers.__version__.startswith("0.23."):
        sys.exit(f"make_hf_models.py: needs tokenizers 0.23.x, found {tokenizers.__version__}")


check_versions()

from transformers import (  # noqa: E402  (after the version check on purpose)
    GPT2Config,
    GPT2LMHeadModel,
    GPT2Tokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)
from transformers.models.llama import modeling_llama  # noqa: E402
from transformers.models.qwen2 import modeling_qwen2  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "hf"
EXPECTED = OUT / "expected"
GPT2_TOKENIZER_DIR = pathlib.Path(os.environ.get("FORMA_GPT2_TOKENIZER_DIR") or next(
    (d for d in (ROOT / "shared" / "tokenizers" / "gpt2", ROOT.parent / "shared" / "tokenizers" / "gpt2")
     if (d / "encoder.json").exists()), ROOT.parent / "shared" / "tokenizers" / "gpt2"))

GREEDY_PROMPT = 4
GREEDY_NEW = 16
V4_TRANSFORMERS_VERSION = "4.46.3"  # the version string written into llama_tiny_v4's json files

# Seeds: one torch.Generator per model for the weights, one per model for the input tokens.
SEED_LLAMA, SEED_QWEN2, SEED_GPT2, SEED_LLMC = 1001, 2002, 3003, 4004

STATS = {}  # printed at the end and written into expected/README.md


# --------------------------------------------------------------------------------------------
# weights

def redraw(model, seed, bias_std):
    """Every parameter redrawn from a fixed generator, in sorted-name order."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            leaf = name.split(".")[-2]
            is_norm = "norm" in leaf or leaf.startswith("ln_")
            if is_norm and name.endswith(".weight"):
                p.copy_(1.0 + 0.1 * noise)
            elif name.endswith(".bias"):
                p.copy_(bias_std * noise)
            else:
                p.copy_(0.08 * noise)


def round_to(model, dtype):
    """Rounds every float32 parameter to `dtype` (RNE) and back, in place."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).to(torch.float32))


def safetensors_listing(path):
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        return [(k, f.get_slice(k).get_dtype(), f.get_slice(k).get_shape()) for k in sorted(f.keys())]


def write_json(path, obj):
    # the way transformers writes its json files
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# float64 reference: transformers' Llama/Qwen2 code upcasts to float32 in RMSNorm and RoPE

def _rmsnorm64(orig):
    def forward(self, hidden_states):
        if hidden_states.dtype != torch.float64:
            return orig(self, hidden_states)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))
    return forward


def _rope64(orig):
    def forward(self, x, position_ids):
        if x.dtype != torch.float64:
            return orig(self, x, position_ids)
        assert self.rope_type == "default"
        dim = 2 * self.inv_freq.shape[0]
        base = float(self.config.rope_parameters["rope_theta"])
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
        freqs = position_ids[..., None].to(torch.float64) * inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos() * self.attention_scaling, emb.sin() * self.attention_scaling
    return forward


class Float64Patches:
    TARGETS = [
        (modeling_llama.LlamaRMSNorm, _rmsnorm64),
        (modeling_qwen2.Qwen2RMSNorm, _rmsnorm64),
        (modeling_llama.LlamaRotaryEmbedding, _rope64),
        (modeling_qwen2.Qwen2RotaryEmbedding, _rope64),
    ]

    def __enter__(self):
        self.saved = [(cls, cls.forward) for cls, _ in self.TARGETS]
        for cls, make in self.TARGETS:
            cls.forward = make(cls.forward)

    def __exit__(self, *exc):
        for cls, forward in self.saved:
            cls.forward = forward


# --------------------------------------------------------------------------------------------
# expected values

def no_eos(model):
    gc = model.generation_config
    gc.eos_token_id = None
    gc.bos_token_id = None
    gc.pad_token_id = 0
    gc.do_sample = False


def argmax_loop(model, prompt, steps):
    """Greedy decoding by full recomputation; returns new ids and the smallest top-1/top-2 gap."""
    ids = prompt.clone()
    gaps = []
    with torch.no_grad():
        for _ in range(steps):
            last = model(ids).logits[0, -1]
            top = torch.topk(last, 2)
            gaps.append(float(top.values[0] - top.values[1]))
            ids = torch.cat([ids, top.indices[:1].view(1, 1)], dim=1)
    return ids[0, prompt.shape[1]:], min(gaps)


def expected_values(name, model32, tokens, vocab):
    """Writes expected/NAME.{tokens,logits,logits64,greedy}.npy from a float32 eval-mode model."""
    model32.eval()
    model32.set_attn_implementation("eager")
    no_eos(model32)
    input_ids = torch.tensor(tokens, dtype=torch.long).view(1, -1)

    with torch.no_grad():
        logits = model32(input_ids).logits[0]
    assert logits.dtype == torch.float32 and logits.shape == (len(tokens), vocab)

    model64 = copy.deepcopy(model32).double()
    model64.set_attn_implementation("sdpa")
    with torch.no_grad():
        plain64 = model64(input_ids).logits[0]          # transformers' own float64 path
        with Float64Patches():
            logits64 = model64(input_ids).logits[0]
    assert logits64.dtype == torch.float64

    prompt = input_ids[:, :GREEDY_PROMPT]
    with torch.no_grad():
        out = model32.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                               max_new_tokens=GREEDY_NEW, min_new_tokens=GREEDY_NEW,
                               eos_token_id=None, pad_token_id=0)
    greedy = out[0, GREEDY_PROMPT:]
    assert greedy.shape == (GREEDY_NEW,), greedy.shape
    loop32, gap32 = argmax_loop(model32, prompt, GREEDY_NEW)
    with Float64Patches():
        loop64, gap64 = argmax_loop(model64, prompt, GREEDY_NEW)
    assert torch.equal(greedy, loop32), (greedy, loop32)
    assert torch.equal(greedy, loop64), (greedy, loop64)

    np.save(EXPECTED / f"{name}.tokens.npy", np.asarray(tokens, dtype=np.int32))
    np.save(EXPECTED / f"{name}.logits.npy", np.ascontiguousarray(logits.numpy(), dtype=np.float32))
    np.save(EXPECTED / f"{name}.logits64.npy", np.ascontiguousarray(logits64.numpy(), dtype=np.float64))
    np.save(EXPECTED / f"{name}.greedy.npy", greedy.numpy().astype(np.int32))

    STATS[name] = {
        "T": len(tokens),
        "vocab": vocab,
        "logit_std": float(logits.std()),
        "logit_absmax": float(logits.abs().max()),
        "max|logits-logits64|": float((logits.double() - logits64).abs().max()),
        "max|plain double()-logits64|": float((plain64 - logits64).abs().max()),
        "min greedy gap f32": gap32,
        "min greedy gap f64": gap64,
        "greedy": greedy.tolist(),
    }
    return logits


def check_reload(label, cls, folder, want, tokens, **kw):
    """from_pretrained(folder) in float32 must reproduce the reference logits bit for bit."""
    model = cls.from_pretrained(str(folder), dtype=torch.float32, attn_implementation="eager", **kw).eval()
    with torch.no_grad():
        got = model(torch.tensor(tokens, dtype=torch.long).view(1, -1)).logits[0]
    diff = float((got - want).abs().max())
    assert diff == 0.0, f"{label}: reloaded logits differ by {diff}"
    STATS.setdefault("reload", []).append(label)


def random_tokens(seed, count, vocab):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(1, vocab, (count,), generator=gen).tolist()  # no 0: 0 is the pad id


# --------------------------------------------------------------------------------------------
# Llama

def make_llama():
    config = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False)
    model = LlamaForCausalLM(config).to(torch.float32)
    redraw(model, SEED_LLAMA, bias_std=0.0)
    model.eval()

    folder = OUT / "llama_tiny"
    model.save_pretrained(str(folder), safe_serialization=True)
    tokens = random_tokens(SEED_LLAMA + 1, 12, 512)
    want = expected_values("llama_tiny", model, tokens, 512)
    check_reload("llama_tiny", LlamaForCausalLM, folder, want, tokens)

    # llama_tiny_v4: transformers-4 config, two shards split by layer, rotary inv_freq buffers
    v4 = OUT / "llama_tiny_v4"
    v4.mkdir()
    cfg = json.loads((folder / "config.json").read_text())
    rope = cfg.pop("rope_parameters")
    assert rope == {"rope_theta": 10000.0, "rope_type": "default"}, rope
    cfg["rope_theta"] = rope["rope_theta"]
    cfg["rope_scaling"] = None
    cfg["torch_dtype"] = cfg.pop("dtype")
    if cfg.get("pad_token_id", 0) is None:
        del cfg["pad_token_id"]
    cfg["transformers_version"] = V4_TRANSFORMERS_VERSION
    write_json(v4 / "config.json", cfg)
    gen_cfg = json.loads((folder / "generation_config.json").read_text())
    gen_cfg["transformers_version"] = V4_TRANSFORMERS_VERSION
    write_json(v4 / "generation_config.json", gen_cfg)

    inv_freq = model.model.rotary_emb.inv_freq.detach().to(torch.float32).clone()
    head_dim = config.hidden_size // config.num_attention_heads
    assert inv_freq.shape == (head_dim // 2,)
    ref = 1.0 / (10000.0 ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    assert torch.equal(inv_freq, ref)

    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    shards = [{}, {}]
    for key, value in state.items():
        if key.startswith("model.layers."):
            layer = int(key.split(".")[2])
            shards[0 if layer == 0 else 1][key] = value
        elif key.startswith("model.embed_tokens."):
            shards[0][key] = value
        else:  # model.norm, lm_head
            shards[1][key] = value
    for layer in range(config.num_hidden_layers):
        shards[0 if layer == 0 else 1][f"model.layers.{layer}.self_attn.rotary_emb.inv_freq"] = inv_freq.clone()
    weight_map, total = {}, 0
    for n, shard in enumerate(shards, start=1):
        fname = f"model-{n:05d}-of-00002.safetensors"
        safetensors.torch.save_file(shard, str(v4 / fname), metadata={"format": "pt"})
        for key, value in shard.items():
            weight_map[key] = fname
            total += value.numel() * value.element_size()
    write_json(v4 / "model.safetensors.index.json", {"metadata": {"total_size": total}, "weight_map": weight_map})
    check_reload("llama_tiny_v4", LlamaForCausalLM, v4, want, tokens)
    STATS["llama_tiny_v4 total_size"] = total


# --------------------------------------------------------------------------------------------
# Qwen2

def make_qwen2():
    config = Qwen2Config(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         rms_norm_eps=1e-6, rope_theta=1e6, tie_word_embeddings=True)
    model = Qwen2ForCausalLM(config).to(torch.float32)
    redraw(model, SEED_QWEN2, bias_std=0.1)
    round_to(model, torch.bfloat16)
    model.eval()

    folder = OUT / "qwen2_tiny"
    copy.deepcopy(model).to(torch.bfloat16).save_pretrained(str(folder), safe_serialization=True)
    tokens = random_tokens(SEED_QWEN2 + 1, 12, 512)
    want = expected_values("qwen2_tiny", model, tokens, 512)
    check_reload("qwen2_tiny", Qwen2ForCausalLM, folder, want, tokens)


# --------------------------------------------------------------------------------------------
# GPT-2

def gpt2_tokenizer(folder):
    vocab_json = GPT2_TOKENIZER_DIR / "encoder.json"
    merges_txt = GPT2_TOKENIZER_DIR / "vocab.bpe"
    vocab = json.loads(vocab_json.read_text(encoding="utf-8"))
    lines = merges_txt.read_text(encoding="utf-8").split("\n")
    assert lines[0].startswith("#version")
    merges = [tuple(line.split(" ")) for line in lines[1:] if line]
    assert len(vocab) == 50257 and len(merges) == 50000
    tok = GPT2Tokenizer(vocab=vocab, merges=merges)
    tok.save_pretrained(str(folder))
    shutil.copyfile(vocab_json, folder / "vocab.json")
    shutil.copyfile(merges_txt, folder / "merges.txt")
    assert tok("hello world")["input_ids"] == [31373, 995]
    assert tok("Hello, world!")["input_ids"] == [15496, 11, 995, 0]
    reloaded = GPT2Tokenizer.from_pretrained(str(folder))
    return tok, reloaded


def gpt2_config(vocab, **extra):
    args = dict(vocab_size=vocab, n_embd=32, n_layer=2, n_head=2, n_positions=64, n_inner=None,
                activation_function="gelu_new", layer_norm_epsilon=1e-5)
    args.update(extra)
    return GPT2Config(**args)


def make_gpt2():
    model = GPT2LMHeadModel(gpt2_config(50257)).to(torch.float32)
    redraw(model, SEED_GPT2, bias_std=0.05)
    round_to(model, torch.float16)
    model.eval()
    assert model.lm_head.weight is model.transformer.wte.weight

    folder = OUT / "gpt2_tiny"
    half = copy.deepcopy(model).to(torch.float16)
    half.save_pretrained(str(folder), safe_serialization=True)
    tok, reloaded = gpt2_tokenizer(folder)
    text = "Hello, my dog is cute and I"
    tokens = tok(text)["input_ids"]
    assert tokens == reloaded(text)["input_ids"]
    assert len(tokens) == 8, tokens
    STATS["gpt2_tiny text"] = text
    want = expected_values("gpt2_tiny", model, tokens, 50257)
    check_reload("gpt2_tiny", GPT2LMHeadModel, folder, want, tokens)

    # the Hub's layout: bare names, Conv1D [in, out] weights, attention buffers, no lm_head
    hub = OUT / "gpt2_hub_style"
    hub.mkdir()
    tensors = {}
    n_pos = model.config.n_positions
    for key, value in half.state_dict().items():
        if key.startswith("lm_head."):
            continue
        assert key.startswith("transformer."), key
        tensors[key[len("transformer."):]] = value.detach().contiguous()
    for i in range(model.config.n_layer):
        tensors[f"h.{i}.attn.bias"] = torch.tril(torch.ones(n_pos, n_pos, dtype=torch.float16)).view(1, 1, n_pos, n_pos)
        tensors[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4, dtype=torch.float16)
    safetensors.torch.save_file(tensors, str(hub / "model.safetensors"), metadata={"format": "pt"})
    c = model.config
    write_json(hub / "config.json", {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": 50256,
        "embd_pdrop": 0.1,
        "eos_token_id": 50256,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": c.n_positions,
        "n_embd": c.n_embd,
        "n_head": c.n_head,
        "n_layer": c.n_layer,
        "n_positions": c.n_positions,
        "resid_pdrop": 0.1,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
        "vocab_size": c.vocab_size,
    })
    check_reload("gpt2_hub_style", GPT2LMHeadModel, hub, want, tokens)
    STATS["gpt2_tiny float16 subnormal weights"] = int(sum(
        ((p.abs() < 2.0 ** -14) & (p != 0)).sum() for p in model.parameters()))


# --------------------------------------------------------------------------------------------
# llm.c

LLMC_MAGIC = 20240326
LLMC_LAYER_KEYS = [  # (HF name under transformer.h.{i}., transpose Conv1D [in,out] -> (out,in))
    ("ln_1.weight", False), ("ln_1.bias", False),
    ("attn.c_attn.weight", True), ("attn.c_attn.bias", False),
    ("attn.c_proj.weight", True), ("attn.c_proj.bias", False),
    ("ln_2.weight", False), ("ln_2.bias", False),
    ("mlp.c_fc.weight", True), ("mlp.c_fc.bias", False),
    ("mlp.c_proj.weight", True), ("mlp.c_proj.bias", False),
]


def llmc_tensors(model, vp):
    sd = {k: v.detach().to(torch.float32) for k, v in model.state_dict().items()}
    wte = sd["transformer.wte.weight"]
    padded = torch.zeros(vp, wte.shape[1], dtype=torch.float32)
    padded[: wte.shape[0]] = wte
    out = [padded, sd["transformer.wpe.weight"]]
    for key, transpose in LLMC_LAYER_KEYS:
        for i in range(model.config.n_layer):
            t = sd[f"transformer.h.{i}.{key}"]
            out.append(t.t().contiguous() if transpose else t)
    out += [sd["transformer.ln_f.weight"], sd["transformer.ln_f.bias"]]
    return out


def write_llmc(path, model, version, vp):
    c = model.config
    header = np.zeros(256, dtype="<i4")
    header[:8] = [LLMC_MAGIC, version, c.n_positions, c.vocab_size, c.n_layer, c.n_head, c.n_embd, vp]
    with open(path, "wb") as f:
        f.write(header.tobytes())
        for t in llmc_tensors(model, vp):
            if version == 3:
                f.write(t.numpy().astype("<f4").tobytes())
            else:
                bits = t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2")
                f.write(bits.tobytes())


def read_llmc(path):
    """An independent reader from the layout table alone; returns an HF GPT2LMHeadModel."""
    raw = pathlib.Path(path).read_bytes()
    header = np.frombuffer(raw[:1024], dtype="<i4")
    magic, version, maxT, V, L, NH, C, Vp = (int(x) for x in header[:8])
    assert magic == LLMC_MAGIC and version in (3, 5) and not header[8:].any()
    if version == 3:
        flat = np.frombuffer(raw[1024:], dtype="<f4").astype(np.float64)
    else:
        flat = (np.frombuffer(raw[1024:], dtype="<u2").astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    shapes = [(Vp, C), (maxT, C), (L, C), (L, C), (L, 3 * C, C), (L, 3 * C), (L, C, C), (L, C), (L, C),
              (L, C), (L, 4 * C, C), (L, 4 * C), (L, C, 4 * C), (L, C), (C,), (C,)]
    arrays, at = [], 0
    for shape in shapes:
        n = int(np.prod(shape))
        arrays.append(flat[at: at + n].reshape(shape))
        at += n
    assert at == flat.size, (at, flat.size)
    wte, wpe, ln1w, ln1b, qkvw, qkvb, attprojw, attprojb, ln2w, ln2b, fcw, fcb, fcprojw, fcprojb, lnfw, lnfb = arrays
    assert not wte[V:].any()
    model = GPT2LMHeadModel(gpt2_config(V, n_head=NH, n_embd=C, n_layer=L, n_positions=maxT)).eval()
    model.set_attn_implementation("eager")
    f = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    sd = {"transformer.wte.weight": f(wte[:V]), "transformer.wpe.weight": f(wpe),
          "transformer.ln_f.weight": f(lnfw), "transformer.ln_f.bias": f(lnfb)}
    for i in range(L):
        p = f"transformer.h.{i}."
        sd[p + "ln_1.weight"], sd[p + "ln_1.bias"] = f(ln1w[i]), f(ln1b[i])
        sd[p + "attn.c_attn.weight"], sd[p + "attn.c_attn.bias"] = f(qkvw[i].T), f(qkvb[i])
        sd[p + "attn.c_proj.weight"], sd[p + "attn.c_proj.bias"] = f(attprojw[i].T), f(attprojb[i])
        sd[p + "ln_2.weight"], sd[p + "ln_2.bias"] = f(ln2w[i]), f(ln2b[i])
        sd[p + "mlp.c_fc.weight"], sd[p + "mlp.c_fc.bias"] = f(fcw[i].T), f(fcb[i])
        sd[p + "mlp.c_proj.weight"], sd[p + "mlp.c_proj.bias"] = f(fcprojw[i].T), f(fcprojb[i])
    sd["lm_head.weight"] = sd["transformer.wte.weight"]
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and not missing, (missing, unexpected)
    return model, version


def make_llmc():
    V = 1000
    vp = (V + 127) // 128 * 128
    model = GPT2LMHeadModel(gpt2_config(V, bos_token_id=None, eos_token_id=None)).to(torch.float32)
    redraw(model, SEED_LLMC, bias_std=0.05)
    round_to(model, torch.bfloat16)  # so that v3 (float32) and v5 (bfloat16) hold the same values
    model.eval()
    tokens = random_tokens(SEED_LLMC + 1, 10, V)
    want = expected_values("gpt2_llmc", model, tokens, V)
    n_params = sum(t.numel() for t in llmc_tensors(model, vp))
    for version, width in ((3, 4), (5, 2)):
        path = OUT / f"gpt2_llmc_v{version}.bin"
        write_llmc(path, model, version, vp)
        assert path.stat().st_size == 1024 + width * n_params
        back, got_version = read_llmc(path)
        assert got_version == version
        with torch.no_grad():
            got = back(torch.tensor(tokens).view(1, -1)).logits[0]
        assert float((got - want).abs().max()) == 0.0, f"llm.c v{version}: logits differ"
        STATS.setdefault("reload", []).append(f"gpt2_llmc_v{version}.bin (own reader)")
    STATS["gpt2_llmc Vp"] = vp
    STATS["gpt2_llmc params (padded)"] = n_params


# --------------------------------------------------------------------------------------------
# READMEs

def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_table(root, exclude=()):
    rows = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel in exclude:
            continue
        rows.append(f"| `{rel}` | {path.stat().st_size:,} | `{sha256(path)[:16]}` |")
    return "| file | bytes | sha256 (first 16) |\n| --- | ---: | --- |\n" + "\n".join(rows)


def versions_line():
    return (f"torch {torch.__version__.split('+')[0]}, transformers {transformers.__version__}, "
            f"safetensors {safetensors.__version__}, tokenizers {tokenizers.__version__}, "
            f"numpy {np.__version__}, Python {sys.version.split()[0]}")


COMMAND = "/work/venv/hf/bin/python scripts/golden/make_hf_models.py"


def fmt(x):
    return f"{x:.3g}" if isinstance(x, float) else str(x)


def write_expected_readme():
    lines = [
        "# Expected values for the tiny Hugging Face / llm.c models",
        "",
        f"Generated by `scripts/golden/make_hf_models.py` ({COMMAND}) with {versions_line()}, on the CPU,",
        "one thread, fixed seeds. Do not edit; re-run the script (it reproduces every file bit for bit).",
        "",
        "For each NAME (the model it belongs to):",
        "",
        "| NAME | model files | T | vocab |",
        "| --- | --- | ---: | ---: |",
        "| `llama_tiny` | `../llama_tiny/`, `../llama_tiny_v4/` (same weights) | 12 | 512 |",
        "| `qwen2_tiny` | `../qwen2_tiny/` (bfloat16 on disk) | 12 | 512 |",
        "| `gpt2_tiny` | `../gpt2_tiny/`, `../gpt2_hub_style/` (same float16 weights) | 8 | 50257 |",
        "| `gpt2_llmc` | `../gpt2_llmc_v3.bin`, `../gpt2_llmc_v5.bin` (same values) | 10 | 1000 (not Vp = 1024) |",
        "",
        "- `NAME.tokens.npy` int32 (T,): the input ids. Random ids in [1, vocab) for the synthetic vocabularies;",
        f"  for gpt2_tiny the GPT-2 ids of {json.dumps(STATS['gpt2_tiny text'])} from the real tokenizer.",
        "- `NAME.logits.npy` float32 (T, vocab): `model(input_ids).logits[0]` at every position, ONE forward pass",
        "  over all T tokens, float32 model in eval mode, eager attention. The model holds exactly the stored",
        "  (for 16-bit files: rounded) weights.",
        "- `NAME.logits64.npy` float64 (T, vocab): the same from a `.double()` copy with SDPA attention. For Llama and",
        "  Qwen2, transformers upcasts to float32 inside RMSNorm and for RoPE's cos/sin (and in eager softmax) even",
        "  for a float64 model, so the script swaps in float64 forms of RMSNorm.forward and",
        "  RotaryEmbedding.forward for this pass (same formulas; inv_freq recomputed in float64). This is the",
        "  float64 reference; GPT-2 needs no patch.",
        f"- `NAME.greedy.npy` int32 ({GREEDY_NEW},): the new ids of `model.generate(input_ids[:, :{GREEDY_PROMPT}],",
        f"  do_sample=False, max_new_tokens={GREEDY_NEW}, min_new_tokens={GREEDY_NEW}, eos_token_id=None, pad_token_id=0)`",
        "  on the float32 model (its generation config's eos/bos cleared, so nothing is suppressed or stops early).",
        "  Asserted equal to a plain argmax loop (full recomputation each step) in float32 and in float64.",
        "",
        "Numbers from this run (gap = smallest top-1 minus top-2 logit along the greedy path):",
        "",
        "| NAME | logit std | max abs logit | max abs(logits - logits64) | max abs(plain .double() - logits64) | min gap f32 | min gap f64 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in ("llama_tiny", "qwen2_tiny", "gpt2_tiny", "gpt2_llmc"):
        s = STATS[name]
        lines.append(f"| `{name}` | {fmt(s['logit_std'])} | {fmt(s['logit_absmax'])} | {fmt(s['max|logits-logits64|'])} "
                     f"| {fmt(s['max|plain double()-logits64|'])} | {fmt(s['min greedy gap f32'])} | {fmt(s['min greedy gap f64'])} |")
    lines += [
        "",
        "Also checked by the script: each model directory reloaded with `from_pretrained(dtype=float32)` (and both",
        "llm.c files read back by an independent reader) gives logits identical to `NAME.logits.npy`.",
        "",
        "## Files",
        "",
        file_table(EXPECTED, exclude=("README.md",)),
        "",
    ]
    (EXPECTED / "README.md").write_text("\n".join(lines), encoding="utf-8")


def write_main_readme(listings):
    def listing(name):
        return "\n".join(f"    {k}  {d}  {s}" for k, d, s in listings[name])

    lines = [
        "# Tiny Hugging Face and llm.c model fixtures",
        "",
        f"Generated here by `scripts/golden/make_hf_models.py` (`{COMMAND}`, or any Python with",
        "`pip install torch==2.15.0 transformers==5.25.0 safetensors==0.8.0 tokenizers==0.23.3 numpy`),",
        f"with {versions_line()}. Re-running it rewrites this directory bit for bit.",
        "",
        "Provenance and license:",
        "",
        "- All model weights are random numbers drawn by the script from fixed seeds (no trained model, no download):",
        "  matrices and embeddings N(0, 0.08), norm weights 1 + N(0, 0.1), biases N(0, 0.1) (Qwen2) / N(0, 0.05)",
        "  (GPT-2). They are the project's own test data.",
        "- `gpt2_tiny/vocab.json` and `gpt2_tiny/merges.txt` are OpenAI's GPT-2 `encoder.json` and `vocab.bpe`",
        "  byte for byte (MIT license, (c) OpenAI; github.com/openai/gpt-2), taken from shared/tokenizers/gpt2/",
        "  (see its PROVENANCE.md). `tokenizer.json` and `tokenizer_config.json` are transformers' serialisation",
        "  of that vocabulary (`GPT2Tokenizer(vocab=..., merges=...).save_pretrained`).",
        "- The llm.c layout follows llm.c's train_gpt2.py `write_model` (github.com/karpathy/llm.c, MIT);",
        "  no code copied.",
        "",
        "## What each fixture exercises",
        "",
        "- `llama_tiny/`: Llama through transformers 5's own `save_pretrained`: config.json with",
        "  `rope_parameters` {rope_theta, rope_type} and `dtype`, one float32 `model.safetensors`, untied",
        "  `lm_head.weight`, GQA (4 query heads, 2 kv heads, head_dim 16), intermediate 172 (not a multiple of 64).",
        "- `llama_tiny_v4/`: the same weights as transformers 4 wrote them: config.json with top-level",
        f"  `rope_theta`, `rope_scaling: null`, `torch_dtype` (transformers_version set to \"{V4_TRANSFORMERS_VERSION}\");",
        "  sharded (`model.safetensors.index.json` {metadata: {total_size}, weight_map} + two shards, layer 0 with",
        "  the embeddings, layer 1 with norm and lm_head); an extra `model.layers.{i}.self_attn.rotary_emb.inv_freq`",
        "  float32 [8] buffer per layer that a loader must skip. Same expected values as llama_tiny.",
        "- `qwen2_tiny/`: Qwen2: q/k/v biases, rope_theta 1e6, rms_norm_eps 1e-6, tied embeddings (no",
        "  `lm_head.weight` on disk), every tensor bfloat16.",
        "- `gpt2_tiny/`: GPT-2 as transformers 5 saves it: `transformer.`-prefixed names, Conv1D weights [in, out],",
        "  float16, tied lm_head (not written), no attn.bias/masked_bias buffers; real 50257-token vocabulary",
        "  and tokenizer files. Some weights are float16 subnormals.",
        "- `gpt2_hub_style/`: the same float16 weights laid out like the Hub's openai-community/gpt2",
        "  model.safetensors: bare names (`wte.weight`, `h.0.attn.c_attn.weight`, ...), no lm_head, plus",
        "  `h.{i}.attn.bias` (float16 [1, 1, 64, 64] lower-triangular ones) and `h.{i}.attn.masked_bias`",
        "  (float16 scalar, -1e4) buffers to skip; a config.json with the Hub file's key set. No tokenizer.",
        "- `gpt2_llmc_v3.bin`, `gpt2_llmc_v5.bin`: llm.c checkpoints (header 256 int32: 20240326, version, maxT 64,",
        f"  V 1000, L 2, NH 2, C 32, Vp {STATS['gpt2_llmc Vp']}), version 3 float32 and version 5 bfloat16 parameters; vocab padded",
        "  with zero rows; (out, in) matrices. Both hold the same (bfloat16-representable) values.",
        "- `expected/`: tokens, float32 and float64 logits and greedy continuations (see expected/README.md).",
        "",
        "## Tensors written",
        "",
        "llama_tiny/model.safetensors (name, dtype, shape):",
        "",
        listing("llama_tiny"),
        "",
        "llama_tiny_v4 shards: the same names and float32 tensors plus the per-layer inv_freq buffers:",
        "",
        listing("llama_tiny_v4"),
        "",
        "qwen2_tiny/model.safetensors:",
        "",
        listing("qwen2_tiny"),
        "",
        "gpt2_tiny/model.safetensors:",
        "",
        listing("gpt2_tiny"),
        "",
        "gpt2_hub_style/model.safetensors:",
        "",
        listing("gpt2_hub_style"),
        "",
        "## Files",
        "",
        file_table(OUT, exclude=("README.md", "expected/README.md")),
        "",
    ]
    (OUT / "README.md").write_text("\n".join(lines), encoding="utf-8")


# --------------------------------------------------------------------------------------------

def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(0)  # model constructors draw their own init first; all of it is overwritten

    if OUT.exists():
        shutil.rmtree(OUT)
    EXPECTED.mkdir(parents=True)

    make_llama()
    make_qwen2()
    make_gpt2()
    make_llmc()

    listings = {
        "llama_tiny": safetensors_listing(OUT / "llama_tiny" / "model.safetensors"),
        "llama_tiny_v4": sorted(
            safetensors_listing(OUT / "llama_tiny_v4" / "model-00001-of-00002.safetensors")
            + safetensors_listing(OUT / "llama_tiny_v4" / "model-00002-of-00002.safetensors")),
        "qwen2_tiny": safetensors_listing(OUT / "qwen2_tiny" / "model.safetensors"),
        "gpt2_tiny": safetensors_listing(OUT / "gpt2_tiny" / "model.safetensors"),
        "gpt2_hub_style": safetensors_listing(OUT / "gpt2_hub_style" / "model.safetensors"),
    }
    write_expected_readme()
    write_main_readme(listings)

    for key, value in STATS.items():
        print(f"{key}: {value}")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total:,} bytes)")


if __name__ == "__main__":
    main()
