#!/usr/bin/env python3
"""forma-convert with a Hugging Face tokenizer.json: the GGUF's own tokenizer gives Hugging Face
tokenizers' ids.

usage: check_convert_tokenizer.py FORMA_CONVERT FORMA_TOKENIZE FORMA_RUN QWEN2_DIR TOKENIZER_DIR OUT_DIR [LLAMACPP_NPY]

QWEN2_DIR is tests/data/hf/qwen2_tiny (512-token vocabulary, no tokenizer); TOKENIZER_DIR is
tests/data/bpe/qwen2_style (a 512-token tokenizer.json in Qwen2's form and expected.tsv, the ids
tokenizers 0.23.3 gives: scripts/fixtures/make_qwen2_style_tokenizer.py). The two are put together
in OUT_DIR as a model directory and converted; then `forma-tokenize OUT.gguf --text T` must print
tokenizers' ids for every text, and `forma-run OUT.gguf -i PROMPT` must generate with the file's
own tokenizer; with LLAMACPP_NPY (llama.cpp's logits on the same Q8_0 file, tests/data/gguf/llamacpp),
forma-run's logits on the tokens of tests/data/hf/expected/qwen2_tiny must be within 0.1 of them
(measured 0.043: llama.cpp quantizes the activations to Q8_0 as well). Variants of the tokenizer.json check how tokenizer.ggml.pre is chosen: plain
ByteLevel → gpt-2, Llama 3's split → llama-bpe, any other split → no tokenizer and a note; a
merge of unknown tokens or an id with two names is a one-line error. Standard library only.
"""
import json
import os
import shutil
import subprocess
import sys


def run(command, expect_ok=True):
    result = subprocess.run(command, capture_output=True)
    if expect_ok and result.returncode != 0:
        sys.exit(f"{' '.join(command)}\nexited {result.returncode}: {result.stderr.decode(errors='replace').strip()}")
    return result


def unescape(text):
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append({"n": "\n", "t": "\t", "\\": "\\"}[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def model_dir(base, qwen2, tokenizer_json):
    os.makedirs(base, exist_ok=True)
    for name in ("config.json", "model.safetensors"):
        shutil.copy(os.path.join(qwen2, name), base)
    with open(os.path.join(base, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json, f, ensure_ascii=False)


def main():
    forma_convert, forma_tokenize, forma_run, qwen2, tokenizer_dir, out_dir = sys.argv[1:7]
    llamacpp = sys.argv[7] if len(sys.argv) > 7 else None
    shutil.rmtree(out_dir, ignore_errors=True)
    with open(os.path.join(tokenizer_dir, "tokenizer.json"), encoding="utf-8") as f:
        original = json.load(f)

    base = os.path.join(out_dir, "qwen2_tiny_tok")
    model_dir(base, qwen2, original)
    gguf = os.path.join(out_dir, "qwen2_tiny_tok.gguf")
    printed = run([forma_convert, base, gguf, "--type", "q8_0"]).stdout.decode()
    if "  tokenizer: gpt2, pre-tokenizer qwen2, 512 tokens, 255 merges\n" not in printed:
        sys.exit(f"unexpected forma-convert output: {printed!r}")

    checked = 0
    with open(os.path.join(tokenizer_dir, "expected.tsv"), encoding="utf-8") as f:
        for line in f.read().split("\n"):
            if "\t" not in line:
                continue
            text, ids = line.split("\t")
            text = unescape(text)
            got = run([forma_tokenize, gguf, "--text", text]).stdout.decode().strip()
            if got != ids:
                sys.exit(f"{text!r}: forma-tokenize on the GGUF gives [{got}], tokenizers gives [{ids}]")
            checked += 1
    print(f"{checked} texts: the converted file's tokenizer gives tokenizers' ids")

    if llamacpp:
        import numpy as np  # a CI dependency (python3-numpy)

        expected = os.path.join(os.path.dirname(qwen2.rstrip("/")), "expected", "qwen2_tiny.tokens.npy")
        ids = ",".join(str(int(t)) for t in np.load(expected))
        npy = os.path.join(out_dir, "qwen2_tiny_tok.logits.npy")
        run([forma_run, gguf, "--tokens", ids, "--logits-out", npy])
        gap = float(np.max(np.abs(np.load(npy).astype(np.float64) - np.load(llamacpp))))
        print(f"llama.cpp's logits on the same file: max abs difference {gap:.3g}")
        if not gap <= 0.1:
            sys.exit(f"the logits differ from llama.cpp's by {gap}, more than 0.1")

    generated = run([forma_run, gguf, "-t", "0", "-n", "12", "-i", "Once upon a time"]).stdout
    if not generated.startswith(b"Once upon a time"):
        sys.exit(f"forma-run on the converted file printed {generated!r}")

    # How tokenizer.ggml.pre is chosen.
    variants = {
        "gpt-2": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "llama-bpe": json.loads(json.dumps(original["pre_tokenizer"]).replace(r"\\p{N}|", r"\\p{N}{1,3}|")),
        "none": json.loads(json.dumps(original["pre_tokenizer"]).replace(r"\\p{N}|", r"\\p{N}{1,2}|")),
    }
    for name, pre_tokenizer in variants.items():
        variant = dict(original, pre_tokenizer=pre_tokenizer)
        directory = os.path.join(out_dir, "variant_" + name)
        model_dir(directory, qwen2, variant)
        printed = run([forma_convert, directory, directory + ".gguf"]).stdout.decode()
        want = (f"  tokenizer: gpt2, pre-tokenizer {name}, 512 tokens, 255 merges\n" if name != "none" else
                "  no tokenizer in the file (" + os.path.join(directory, "tokenizer.json") +
                ": its pre_tokenizer is not ByteLevel, nor a Split by Qwen2's or Llama 3's regex then ByteLevel): "
                "generate with forma-run -z TOKENIZER, or use --tokens\n")
        if want not in printed:
            sys.exit(f"variant {name}: unexpected forma-convert output: {printed!r}")
    print("pre-tokenizers: ByteLevel -> gpt-2, Llama 3's split -> llama-bpe, another split -> none (with a note)")

    # A broken tokenizer.json is an error naming it (one line, exit 1), not a file that fails later.
    bad_merge = json.loads(json.dumps(original))
    bad_merge["model"]["merges"][0] = ["zz", "qq"] if isinstance(bad_merge["model"]["merges"][0], list) else "zz qq"
    two_names = json.loads(json.dumps(original))
    two_names["model"]["vocab"]["!"] = 5
    for name, variant, want in (("bad_merge", bad_merge, 'model.merges[0]: the merge "zz qq" names "zz", which is not in the vocabulary'),
                                ("two_names", two_names, 'tokenizer.json: id 5 is both ')):
        directory = os.path.join(out_dir, "broken_" + name)
        model_dir(directory, qwen2, variant)
        result = run([forma_convert, directory, directory + ".gguf"], expect_ok=False)
        stderr = result.stderr.decode()
        if result.returncode != 1 or want not in stderr or stderr.count("\n") != 1:
            sys.exit(f"broken tokenizer {name}: exit {result.returncode}, stderr {stderr!r}")
        if os.path.exists(directory + ".gguf"):
            sys.exit(f"broken tokenizer {name}: a file was written")
    print("broken tokenizer.json files: one-line errors, nothing written")


if __name__ == "__main__":
    main()
