#!/usr/bin/env python3
"""forma-run CHECKPOINT --tokens ... --logits-out FILE.npy, checked against a reference with NumPy.

usage: check_logits_out.py FORMA_RUN CHECKPOINT EXPECTED_PREFIX TOLERANCE OUT_DIR [extra forma-run args]

Reads EXPECTED_PREFIX.tokens.npy (int32 ids) and EXPECTED_PREFIX.logits64.npy (the float64
reference made by scripts/golden/make_hf_models.py with Hugging Face transformers), runs forma-run
as a user would, and requires: exit status 0, a float32 (T, vocab) array, and every logit within
TOLERANCE of the reference. Prints the measured max abs error. NumPy is a CI dependency
(python3-numpy); without it this test fails rather than passing unchecked.
"""
import os
import subprocess
import sys

import numpy as np


def main():
    forma_run, checkpoint, prefix, tolerance, out_dir = sys.argv[1:6]
    extra = sys.argv[6:]
    tokens = np.load(prefix + ".tokens.npy")
    expected = np.load(prefix + ".logits64.npy")
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, os.path.basename(checkpoint.rstrip("/")) + ".logits.npy")
    if os.path.exists(out):
        os.remove(out)
    ids = ",".join(str(int(t)) for t in tokens)
    command = [forma_run, checkpoint, "--tokens", ids, "--logits-out", out] + extra
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"forma-run exited {result.returncode}: {result.stderr.strip()}")
    got = np.load(out)
    if got.dtype != np.float32:
        sys.exit(f"{out}: dtype {got.dtype}, expected float32")
    if got.shape != expected.shape:
        sys.exit(f"{out}: shape {got.shape}, expected {expected.shape}")
    error = float(np.max(np.abs(got.astype(np.float64) - expected)))
    print(f"{checkpoint}: {len(tokens)} positions x {expected.shape[1]} logits, max abs error {error:.3g} "
          f"(tolerance {tolerance})")
    if not error <= float(tolerance):
        sys.exit(f"max abs error {error} exceeds {tolerance}")


if __name__ == "__main__":
    main()
