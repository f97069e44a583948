#!/usr/bin/env python3
"""forma-convert with a GGUF input: re-encoding a GGUF model.

usage: check_convert_gguf_input.py FORMA_CONVERT FORMA_RUN MODEL_DIR GGUF_MODELS OUT_DIR

1. stories260K.bin -z tok512.bin → F32 GGUF; that GGUF → each of F32, F16, BF16, Q8_0 must give
   the same bytes as stories260K.bin → that type directly (tokenizer.* keys and general.name copied).
2. GGUF_MODELS/llama_tiny_q8_0.gguf and qwen2_tiny_q8_0.gguf (gguf-py's files) → F32: forma-run's
   logits on the F32 file equal the Q8_0 file's bit for bit (the dequantized values, exactly), on
   the tokens of tests/data/hf/expected.
Standard library and NumPy (a CI dependency; without it this test fails rather than passing).
"""
import os
import subprocess
import sys

import numpy as np


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)}\nexited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def main():
    forma_convert, forma_run, model_dir, gguf_models, out = sys.argv[1:6]
    os.makedirs(out, exist_ok=True)
    checkpoint = os.path.join(model_dir, "stories260K.bin")
    tokenizer = os.path.join(model_dir, "tok512.bin")
    f32 = os.path.join(out, "stories260K.gguf")
    run([forma_convert, checkpoint, f32, "--type", "f32", "-z", tokenizer])
    for kind in ("f32", "f16", "bf16", "q8_0"):
        direct = os.path.join(out, f"direct_{kind}.gguf")
        again = os.path.join(out, f"from_gguf_{kind}.gguf")
        run([forma_convert, checkpoint, direct, "--type", kind, "-z", tokenizer])
        printed = run([forma_convert, f32, again, "--type", kind])
        if "  tokenizer: the 7 tokenizer.* keys of " not in printed:
            sys.exit(f"unexpected output: {printed!r}")
        if open(direct, "rb").read() != open(again, "rb").read():
            sys.exit(f"{again} differs from {direct}")
    print("stories260K: GGUF F32 -> F32/F16/BF16/Q8_0 equals the direct conversion byte for byte")

    hf_expected = os.path.join(os.path.dirname(gguf_models.rstrip("/")), "..", "hf", "expected")
    for name in ("llama_tiny", "qwen2_tiny"):
        q8 = os.path.join(gguf_models, f"{name}_q8_0.gguf")
        back = os.path.join(out, f"{name}_from_q8_0.gguf")
        run([forma_convert, q8, back, "--type", "f32"])
        ids = ",".join(str(int(t)) for t in np.load(os.path.join(hf_expected, f"{name}.tokens.npy")))
        logits = []
        for path in (q8, back):
            npy = os.path.join(out, os.path.basename(path) + ".logits.npy")  # never beside the fixture
            run([forma_run, path, "--tokens", ids, "--logits-out", npy])
            logits.append(np.load(npy))
        if not np.array_equal(logits[0].view(np.uint32), logits[1].view(np.uint32)):
            sys.exit(f"{name}: the F32 file's logits differ from the Q8_0 file's")
        print(f"{name}: Q8_0 GGUF -> F32 GGUF: logits bit-equal")


if __name__ == "__main__":
    main()
