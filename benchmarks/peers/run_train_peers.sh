#!/usr/bin/env bash
# benchmarks/peers/run_train_peers.sh — tokens/s of a training step: forma (bench_train) against
# PyTorch eager (train_pytorch.py) and, when given, llm.c's CPU trainer, run interleaved.
#
#   benchmarks/peers/run_train_peers.sh [ROUNDS] [SECONDS]      (default 3 rounds of ~10 s runs)
#
# Each round runs, for each thread count and each shape, forma, then PyTorch, then llm.c (the
# order reversed every other round), so that a slow minute of a shared machine falls on all of
# them. The table gives each peer's median tok/s and, per ratio, the median of the rounds' paired
# ratios. Environment:
#   BENCH_TRAIN   the bench_train binary (default build/release/benchmarks/bench_train)
#   PYTHON        a Python with torch and numpy (default /work/venv/hf/bin/python)
#   THREADS       thread counts (default "1 2"): OMP_NUM_THREADS and torch.set_num_threads
#   SHAPES        default "stories260k stories15m"
#   LLMC_260K, LLMC_15M   llm.c train_gpt2 binaries built by you from your clone with bench_train's
#                 B x T (8 x 256 and 4 x 256; benchmarks/README.md, "Training", has the commands);
#                 unset: no llm.c column. They run in a directory holding the GPT-2 checkpoint and
#                 tokens of make_llmc_checkpoint.py (written under WORK).
#   WORK          scratch directory (default a new mktemp -d); the raw results are WORK/results.tsv
# llm.c trains GPT-2: with an llm.c binary, bench_train's GPT-2 case of the same shape
# (train_step/gpt2_260k/ or gpt2_15m/, GPT2Trainer) runs too, and the llm.c ratio is GPT-2 against
# GPT-2; a bench_train without that case is compared by its Llama of about the same size.
set -euo pipefail

ROUNDS=${1:-3}
SECONDS_PER_RUN=${2:-10}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_TRAIN=${BENCH_TRAIN:-$ROOT/build/release/benchmarks/bench_train}
PYTHON=${PYTHON:-/work/venv/hf/bin/python}
THREADS=${THREADS:-"1 2"}
SHAPES=${SHAPES:-"stories260k stories15m"}
WORK=${WORK:-$(mktemp -d)}
RESULTS=$WORK/results.tsv

[[ -x $BENCH_TRAIN ]] || { echo "no bench_train at $BENCH_TRAIN (set BENCH_TRAIN)" >&2; exit 1; }
mkdir -p "$WORK"
: > "$RESULTS"

declare -A BT=([stories260k]="8 256" [stories15m]="4 256")
declare -A LLMC_SHAPE=([stories260k]=gpt2_260k [stories15m]=gpt2_15m)
declare -A LLMC_BIN=([stories260k]=${LLMC_260K:-} [stories15m]=${LLMC_15M:-})

for shape in $SHAPES; do
  bin=${LLMC_BIN[$shape]}
  if [[ -n $bin ]]; then
    [[ -x $bin ]] || { echo "llm.c binary $bin is not executable" >&2; exit 1; }
    "$PYTHON" "$ROOT/benchmarks/peers/make_llmc_checkpoint.py" --shape "${LLMC_SHAPE[$shape]}" \
      --out "$WORK/${LLMC_SHAPE[$shape]}" > /dev/null
  fi
done
tests=$("$BENCH_TRAIN" --benchmark_list_tests)

# record ROUND THREADS SHAPE PEER TOK_PER_S
record() {
  printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$RESULTS"
  printf '  %-8s %-12s %-12s %10s tok/s\n' "t=$2" "$3" "$4" "$5"
}

run_forma() {  # round threads shape case-prefix peer-name
  local name
  name=$(grep -m1 "^train_step/$4/" <<< "$tests") || return 0
  local tok
  tok=$(OMP_NUM_THREADS=$2 "$BENCH_TRAIN" --benchmark_filter="^${name}\$" --benchmark_format=json \
          --benchmark_min_time="$SECONDS_PER_RUN" --benchmark_min_warmup_time=1 2> /dev/null |
        "$PYTHON" -c 'import json,sys; print(round(json.load(sys.stdin)["benchmarks"][0]["tok/s"], 1))')
  record "$1" "$2" "$3" "$5" "$tok"
}

run_pytorch() {
  local tok
  tok=$(OMP_NUM_THREADS=$2 "$PYTHON" "$ROOT/benchmarks/peers/train_pytorch.py" --shape "$3" \
          --threads "$2" --seconds "$SECONDS_PER_RUN" |
        "$PYTHON" -c 'import json,sys; print(json.loads(sys.stdin.read())["tok_per_s"])')
  record "$1" "$2" "$3" pytorch "$tok"
}

run_llmc() {
  local bin=${LLMC_BIN[$3]}
  [[ -n $bin ]] || return 0
  local out
  out=$(cd "$WORK/${LLMC_SHAPE[$3]}" && OMP_NUM_THREADS=$2 "$bin")
  local tok
  tok=$(BT="${BT[$3]}" "$PYTHON" -c '
import os, re, statistics, sys
B, T = map(int, os.environ["BT"].split())
text = sys.stdin.read()
batches = int(re.search(r"train dataset num_batches: (\d+)", text).group(1))
if batches != (1 << 18) // (B * T):
    sys.exit(f"llm.c was not built with B x T = {B} x {T} (train batches {batches})")
ms = [float(m) for s, m in re.findall(r"step (\d+): train loss \S+ \(took (\S+) ms\)", text) if int(s) > 0]
print(round(B * T * 1000 / statistics.median(ms), 1))' <<< "$out")
  record "$1" "$2" "$3" llm.c "$tok"
}

echo "forma: $BENCH_TRAIN; PyTorch: $PYTHON; $ROUNDS rounds of ${SECONDS_PER_RUN} s runs; raw: $RESULTS"
for ((round = 1; round <= ROUNDS; round++)); do
  echo "round $round"
  for threads in $THREADS; do
    for shape in $SHAPES; do
      peers=(forma forma_gpt2 pytorch llmc)
      if ((round % 2 == 0)); then peers=(llmc pytorch forma_gpt2 forma); fi
      for peer in "${peers[@]}"; do
        case $peer in
          forma) run_forma "$round" "$threads" "$shape" "$shape" forma ;;
          forma_gpt2)
            if [[ -n ${LLMC_BIN[$shape]} ]]; then
              run_forma "$round" "$threads" "$shape" "${LLMC_SHAPE[$shape]}" forma-gpt2
            fi ;;
          pytorch) run_pytorch "$round" "$threads" "$shape" ;;
          llmc) run_llmc "$round" "$threads" "$shape" ;;
        esac
      done
    done
  done
done

"$PYTHON" - "$RESULTS" <<'EOF'
import collections, statistics, sys
rows = [line.split("\t") for line in open(sys.argv[1]).read().splitlines()]
tok = collections.defaultdict(dict)  # (threads, shape, peer) -> {round: tok/s}
for rnd, threads, shape, peer, value in rows:
    tok[(int(threads), shape, peer)][rnd] = float(value)

def median(threads, shape, peer):
    values = tok.get((threads, shape, peer), {}).values()
    return statistics.median(values) if values else None

def paired(threads, shape, a, b):
    x, y = tok.get((threads, shape, a), {}), tok.get((threads, shape, b), {})
    ratios = [x[r] / y[r] for r in x if r in y]
    return statistics.median(ratios) if ratios else None

def fmt(v, spec):
    return format(v, spec) if v is not None else "-"

print("\n| shape | threads | forma tok/s | PyTorch tok/s | forma GPT-2 tok/s | llm.c tok/s "
      "| forma ÷ PyTorch (≥ 2) | forma ÷ llm.c (≥ 1.5) |")
print("|---|---|---|---|---|---|---|---|")
for threads, shape in sorted({(k[0], k[1]) for k in tok}, key=lambda k: (k[1] != "stories260k", k[0])):
    gpt2 = (threads, shape, "forma-gpt2") in tok
    vs_llmc = paired(threads, shape, "forma-gpt2" if gpt2 else "forma", "llm.c")
    note = "" if vs_llmc is None else (" (GPT-2 vs GPT-2)" if gpt2 else " (Llama vs GPT-2)")
    print(f"| {shape} | {threads} | {fmt(median(threads, shape, 'forma'), '.0f')} "
          f"| {fmt(median(threads, shape, 'pytorch'), '.0f')} "
          f"| {fmt(median(threads, shape, 'forma-gpt2'), '.0f')} "
          f"| {fmt(median(threads, shape, 'llm.c'), '.0f')} "
          f"| {fmt(paired(threads, shape, 'forma', 'pytorch'), '.2f')} | {fmt(vs_llmc, '.2f')}{note} |")
EOF
