#!/usr/bin/env python3
"""forma-convert end to end: convert a checkpoint, run both with forma-run, compare the logits.

usage: check_convert.py FORMA_CONVERT FORMA_RUN INPUT TYPE OUT_DIR
           --ids FILE            token ids to feed (a .npy of ints, or text: ids separated by spaces)
           [--bos]               feed BOS (1) before them
           [--bitequal]          the converted file's logits must equal INPUT's bit for bit
           [--tolerance X]       else: max |logit difference| must be <= X
           [--min-argmax N]      positions (of T) whose argmax agrees, at least N
           [--same-tensors GGUF] every tensor of GGUF (a file gguf-py wrote) is in the converted
                                 file with the same type, dims and bytes (tensors GGUF holds as F32
                                 where the converted file has F16 are compared after rounding to F16)
           [-z TOKENIZER] [-a llama2c|fast]
           [--format llama2c] [--group-size N]   write a llama2.c version 2 (Q8_0) .bin instead
           [--llamacpp-logits NPY --llamacpp-tolerance X]  the converted file's logits (its first
                                 rows) within X of llama.cpp's on the same file
           [--llamacpp-greedy FILE --greedy-agree N]  forma-run -t 0 -o ids on the converted file:
                                 its first N ids equal llama.cpp's greedy ids in FILE

Runs `forma-convert INPUT OUT_DIR/NAME.gguf --type TYPE [-z TOKENIZER]` as a user would, then
`forma-run X --tokens IDS --logits-out F.npy` on INPUT and on the converted file, and prints the
measured max abs error and argmax agreement. The GGUF file is also parsed here, independently of
forma's reader (a few lines of struct unpacking), for --same-tensors. NumPy is a CI dependency
(python3-numpy); without it this test fails rather than passing unchecked.
"""
import argparse
import os
import struct
import subprocess
import sys

import numpy as np

# ggml type: (name, block elements, block bytes)
GGML_TYPES = {0: ("F32", 1, 4), 1: ("F16", 1, 2), 8: ("Q8_0", 32, 34), 30: ("BF16", 1, 2)}


def read_gguf(path):
    """{name: (type name, dims, bytes)} of a GGUF v2/v3 file's tensors, parsed from scratch."""
    data = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    def string():
        nonlocal pos
        (n,) = take("Q")
        pos += n
        return data[pos - n:pos].decode("utf-8")

    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    fmts = {4: "I"}

    def value(kind):
        nonlocal pos
        if kind == 8:
            return string()
        if kind == 9:
            element, count = take("IQ")
            return [value(element) for _ in range(count)]
        if kind in fmts:
            return take(fmts[kind])[0]
        pos += sizes[kind]
        return None

    magic, version, n_tensors, n_kv = take("IIQQ")
    assert magic == 0x46554747 and version in (2, 3), path
    metadata = {}
    for _ in range(n_kv):
        key = string()
        (kind,) = take("I")
        metadata[key] = value(kind)
    alignment = metadata.get("general.alignment", 32)
    infos = []
    for _ in range(n_tensors):
        name = string()
        (n_dims,) = take("I")
        dims = list(take("Q" * n_dims))
        kind, offset = take("IQ")
        infos.append((name, kind, dims, offset))
    start = (pos + alignment - 1) // alignment * alignment
    tensors = {}
    for name, kind, dims, offset in infos:
        type_name, block, block_bytes = GGML_TYPES[kind]
        count = int(np.prod(dims))
        size = count // block * block_bytes
        tensors[name] = (type_name, dims, data[start + offset:start + offset + size])
    return metadata, tensors


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)}\nexited {result.returncode}: {result.stderr.strip()}")
    return result


def main():
    p = argparse.ArgumentParser()
    for name in ("forma_convert", "forma_run", "input", "type", "out_dir"):
        p.add_argument(name)
    p.add_argument("--ids", required=True)
    p.add_argument("--bos", action="store_true")
    p.add_argument("--bitequal", action="store_true")
    p.add_argument("--tolerance", type=float)
    p.add_argument("--min-argmax", type=int)
    p.add_argument("--same-tensors")
    p.add_argument("-z")
    p.add_argument("-a", default="llama2c")
    p.add_argument("--format", default="gguf")
    p.add_argument("--group-size")
    p.add_argument("--llamacpp-logits")
    p.add_argument("--llamacpp-tolerance", type=float)
    p.add_argument("--llamacpp-greedy")
    p.add_argument("--greedy-agree", type=int)
    args = p.parse_args()
    if not args.bitequal and args.tolerance is None:
        sys.exit("give --bitequal or --tolerance")

    os.makedirs(args.out_dir, exist_ok=True)
    stem = os.path.basename(args.input.rstrip("/")).replace(".bin", "")
    extension = ".gguf" if args.format == "gguf" else ".v2.bin"
    out = os.path.join(args.out_dir, f"{stem}_{args.type}{extension}")
    for stale in (out, out + ".tmp"):
        if os.path.exists(stale):
            os.remove(stale)
    command = [args.forma_convert, args.input, out, "--type", args.type] + (["-z", args.z] if args.z else [])
    if args.format != "gguf":
        command += ["--format", args.format] + (["--group-size", args.group_size] if args.group_size else [])
    printed = run(command).stdout
    if not printed.startswith(out + (": GGUF " if args.format == "gguf" else ": llama2.c version 2 (Q8_0)")):
        sys.exit(f"unexpected forma-convert output: {printed!r}")
    if os.path.exists(out + ".tmp"):
        sys.exit(f"{out}.tmp left behind")

    if args.ids.endswith(".npy"):
        ids = [int(t) for t in np.load(args.ids)]
    else:
        ids = [int(t) for t in open(args.ids).read().split()]
    if args.bos:
        ids = [1] + ids
    text = ",".join(str(t) for t in ids)
    logits = []
    for checkpoint, name in ((args.input, "input"), (out, "converted")):
        path = os.path.join(args.out_dir, f"{stem}_{args.type}{extension}.{name}.{args.a}.npy")
        run([args.forma_run, checkpoint, "--tokens", text, "--logits-out", path, "-a", args.a])
        logits.append(np.load(path))
    want, got = logits
    if got.shape != want.shape or got.dtype != np.float32:
        sys.exit(f"converted logits {got.shape} {got.dtype}, input's {want.shape} {want.dtype}")
    error = float(np.max(np.abs(got.astype(np.float64) - want)))
    agree = int(np.sum(got.argmax(axis=1) == want.argmax(axis=1)))
    bitequal = np.array_equal(got.view(np.uint32), want.view(np.uint32))
    print(f"{args.input} -> {args.type}: {len(ids)} positions x {want.shape[1]} logits (max |logit| "
          f"{float(np.abs(want).max()):.3g}): max abs error {error:.3g}, argmax agrees at {agree}/{len(ids)}, "
          f"bit-equal {bitequal}")
    if args.bitequal and not bitequal:
        sys.exit("the logits are not bit-equal")
    if args.tolerance is not None and not error <= args.tolerance:
        sys.exit(f"max abs error {error} exceeds {args.tolerance}")
    if args.min_argmax is not None and agree < args.min_argmax:
        sys.exit(f"argmax agrees at {agree} positions, fewer than {args.min_argmax}")

    if args.llamacpp_logits:
        theirs = np.load(args.llamacpp_logits)
        ours = got[: theirs.shape[0]]
        gap = float(np.max(np.abs(ours.astype(np.float64) - theirs)))
        print(f"llama.cpp on the same file ({theirs.shape[0]} positions): max abs difference {gap:.3g}, "
              f"argmax agrees at {int(np.sum(ours.argmax(axis=1) == theirs.argmax(axis=1)))}/{theirs.shape[0]}")
        if not gap <= args.llamacpp_tolerance:
            sys.exit(f"the logits differ from llama.cpp's by {gap}, more than {args.llamacpp_tolerance}")
    if args.llamacpp_greedy:
        theirs = open(args.llamacpp_greedy).read().split()
        ours = run([args.forma_run, out, "-t", "0", "-n", str(len(theirs)), "-o", "ids", "-a", args.a]).stdout.split()
        same = next((k for k, (x, y) in enumerate(zip(ours, theirs)) if x != y), min(len(ours), len(theirs)))
        print(f"greedy ids: the first {same} of {len(theirs)} equal llama.cpp's on the same file")
        if same < args.greedy_agree:
            sys.exit(f"greedy ids agree with llama.cpp's for {same} steps, fewer than {args.greedy_agree}")

    if args.same_tensors:
        _, reference = read_gguf(args.same_tensors)
        _, converted = read_gguf(out)
        if sorted(reference) != sorted(converted):
            sys.exit(f"tensor names differ: {sorted(set(reference) ^ set(converted))}")
        for name, (kind, dims, data) in reference.items():
            got_kind, got_dims, got_data = converted[name]
            if got_dims != dims:
                sys.exit(f"{name}: dims {got_dims}, {args.same_tensors} has {dims}")
            if kind == "F32" and got_kind == "F16":  # the reference keeps Q8_0's misfits F32
                data = np.frombuffer(data, dtype=np.float32).astype(np.float16).tobytes()
            elif got_kind != kind:
                sys.exit(f"{name}: {got_kind}, {args.same_tensors} has {kind}")
            if got_data != data:
                sys.exit(f"{name}: bytes differ from {args.same_tensors}'s")
        print(f"{len(reference)} tensors equal {os.path.basename(args.same_tensors)}'s (names, types, dims, bytes)")


if __name__ == "__main__":
    main()
