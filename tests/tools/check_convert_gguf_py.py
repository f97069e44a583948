#!/usr/bin/env python3
"""forma-convert's GGUF files read by gguf-py (llama.cpp's own Python package), and every tensor
re-encoded by gguf-py from the llama2.c checkpoint's f32 weights: the bytes must be the same.

usage: check_convert_gguf_py.py FORMA_CONVERT CHECKPOINT.bin TOKENIZER.bin OUT_DIR

For each --type (f32, f16, bf16, q8_0): forma-convert CHECKPOINT OUT_DIR/x.gguf -z TOKENIZER; then
gguf.GGUFReader reads it; general.architecture, the llama.* shape keys and the tokenizer keys are
checked against the llama2.c header and tokenizer.bin (parsed here with struct/NumPy); and each
tensor's bytes equal gguf-py's encoding of the same weights (NumPy astype(float16) for F16,
gguf.quants.quantize for BF16 and Q8_0; llama.cpp's choice of F16 for matrices whose rows are not
a multiple of 32 in a Q8_0 file).

Needs the `gguf` package (pip install gguf==0.19.0): without it this prints SKIPPED and exits 77,
which CTest reports as skipped (SKIP_RETURN_CODE), never as passed.
"""
import os
import struct
import subprocess
import sys

try:
    import gguf
    import numpy as np
    from gguf import GGMLQuantizationType as Q
except ImportError as e:
    print(f"SKIPPED: {e} (pip install gguf==0.19.0 numpy)")
    sys.exit(77)


def llama2c_tensors(path):
    """{GGUF name: float32 array in torch (out, in) order} of a legacy llama2.c checkpoint."""
    data = open(path, "rb").read()
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack_from("<7i", data, 0)
    shared = vocab > 0
    vocab = abs(vocab)
    kv_dim = dim // heads * kv_heads
    values = np.frombuffer(data, dtype=np.float32, offset=28)
    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        out = values[pos:pos + n].reshape(shape)
        pos += n
        return out

    embedding = take(vocab, dim)
    rms_att, wq, wk, wv = take(layers, dim), take(layers, dim, dim), take(layers, kv_dim, dim), take(layers, kv_dim, dim)
    wo, rms_ffn = take(layers, dim, dim), take(layers, dim)
    w1, w2, w3 = take(layers, hidden, dim), take(layers, dim, hidden), take(layers, hidden, dim)
    rms_final = take(dim)
    take(seq_len, dim // heads)  # the RoPE tables (cos, sin halves)
    tensors = {"token_embd.weight": embedding, "output_norm.weight": rms_final}
    for l in range(layers):
        b = f"blk.{l}."
        tensors.update({b + "attn_norm.weight": rms_att[l], b + "attn_q.weight": wq[l], b + "attn_k.weight": wk[l],
                        b + "attn_v.weight": wv[l], b + "attn_output.weight": wo[l], b + "ffn_norm.weight": rms_ffn[l],
                        b + "ffn_gate.weight": w1[l], b + "ffn_up.weight": w3[l], b + "ffn_down.weight": w2[l]})
    if not shared:
        tensors["output.weight"] = take(vocab, dim)
    header = dict(dim=dim, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads, vocab=vocab, seq_len=seq_len)
    return header, tensors


def tokenizer_bin(path):
    data = open(path, "rb").read()
    pos, pieces, scores = 4, [], []
    while pos < len(data):
        score, length = struct.unpack_from("<fi", data, pos)
        pieces.append(data[pos + 8:pos + 8 + length])
        scores.append(score)
        pos += 8 + length
    return pieces, scores


def encode(values, kind):
    """gguf-py's bytes for `values` written as ggml type `kind` (a gguf.GGMLQuantizationType)."""
    if kind == Q.F32:
        return values.astype(np.float32).tobytes()
    if kind == Q.F16:
        return values.astype(np.float16).tobytes()
    return gguf.quants.quantize(np.ascontiguousarray(values), kind).tobytes()


def main():
    forma_convert, checkpoint, tokenizer, out_dir = sys.argv[1:5]
    os.makedirs(out_dir, exist_ok=True)
    header, weights = llama2c_tensors(checkpoint)
    pieces, scores = tokenizer_bin(tokenizer)
    want_types = {"f32": Q.F32, "f16": Q.F16, "bf16": Q.BF16, "q8_0": Q.Q8_0}
    for name, matrix_type in want_types.items():
        out = os.path.join(out_dir, f"gguf_py_{name}.gguf")
        result = subprocess.run([forma_convert, checkpoint, out, "--type", name, "-z", tokenizer],
                                capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"forma-convert exited {result.returncode}: {result.stderr.strip()}")
        r = gguf.GGUFReader(out)
        field = lambda key: r.fields[key].contents()  # noqa: E731
        assert field("general.architecture") == "llama"
        for key, value in (("context_length", header["seq_len"]), ("embedding_length", header["dim"]),
                           ("block_count", header["layers"]), ("feed_forward_length", header["hidden"]),
                           ("attention.head_count", header["heads"]),
                           ("attention.head_count_kv", header["kv_heads"]), ("vocab_size", header["vocab"])):
            assert field("llama." + key) == value, (key, field("llama." + key), value)
        assert field("tokenizer.ggml.model") == "llama"
        tokens = field("tokenizer.ggml.tokens")
        assert len(tokens) == len(pieces) == header["vocab"]
        assert tokens[:3] == ["<unk>", "<s>", "</s>"]
        for i in range(3, len(pieces)):
            assert tokens[i].encode() == pieces[i].replace(b" ", "\u2581".encode()), i
        assert np.array_equal(np.array(field("tokenizer.ggml.scores"), dtype=np.float32), np.array(scores, dtype=np.float32))
        assert [t.name for t in r.tensors if t.name not in weights] == []
        assert sorted(t.name for t in r.tensors) == sorted(weights)
        counts = {}
        for t in r.tensors:
            values = weights[t.name]
            kind = Q.F32 if values.ndim == 1 else matrix_type
            if kind == Q.Q8_0 and values.shape[-1] % 32 != 0:
                kind = Q.F16
            assert t.tensor_type == kind, (t.name, t.tensor_type, kind)
            assert [int(n) for n in t.shape] == list(reversed(values.shape)), (t.name, t.shape, values.shape)
            assert bytes(t.data.tobytes()) == encode(values, kind), f"{name}: {t.name}: bytes differ from gguf-py's"
            counts[kind.name] = counts.get(kind.name, 0) + 1
        print(f"{name}: gguf-py read {len(r.tensors)} tensors ({counts}) and {len(r.fields)} fields; "
              f"every tensor equals gguf-py's own encoding of the llama2.c weights")


if __name__ == "__main__":
    main()
