#!/usr/bin/env bash
# benchmarks/peers/run_decode_peers.sh — greedy decode tok/s of forma-run against llama2.c's run
# (and runq on version-2 files, when given) on the same llama2.c checkpoints, interleaved.
#
#   benchmarks/peers/run_decode_peers.sh [ROUNDS] [STEPS]        (default 3 rounds of 256 tokens)
#
# Each round runs, for each model and thread count, forma-run then llama2.c's run (the order
# reversed every other round), so that a slow minute of a shared machine falls on both. Both print
# "achieved tok/s" (run.c's own timer, from the second token); the table gives each side's median
# and the median of the rounds' paired ratios forma / run.c. Environment:
#   FORMA_RUN   forma-run (default build/release/examples/tools/forma-run)
#   RUNC        llama2.c's run built by you from your own clone, e.g.
#                 gcc -Ofast -march=native -o run run.c -lm                (1 thread)
#               RUNC_OMP the same with -fopenmp (2 threads; default: RUNC for every count)
#   MODELS      "name=path.bin ..." (default: the shipped stories260K and, when MODELS_DIR holds
#               them, stories{15m,42m,110m}_random.bin written by make_llama2c_checkpoint.py)
#   MODELS_DIR  default /tmp/forma-bench
#   THREADS     default "1 2": OMP_NUM_THREADS for run.c, FORMA_NUM_THREADS for forma-run
#   ARITH       forma-run's -a (default fast; llama2c is run.c's exact arithmetic)
# Nothing of llama2.c is part of forma: this script only runs the binary you point it at.
set -euo pipefail

ROUNDS=${1:-3}
STEPS=${2:-256}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FORMA_RUN=${FORMA_RUN:-$ROOT/build/release/examples/tools/forma-run}
RUNC=${RUNC:?set RUNC to llama2.c run binary built from your clone}
RUNC_OMP=${RUNC_OMP:-$RUNC}
MODELS_DIR=${MODELS_DIR:-/tmp/forma-bench}
THREADS=${THREADS:-"1 2"}
ARITH=${ARITH:-fast}
SMALL_TOK=$ROOT/models/stories260K/tok512.bin
BIG_TOK=$ROOT/tests/data/tokenizer/llama2/tokenizer.bin

if [[ -z ${MODELS:-} ]]; then
  MODELS="stories260K=$ROOT/models/stories260K/stories260K.bin"
  for m in 15m 42m 110m; do
    [[ -f $MODELS_DIR/stories${m}_random.bin ]] && MODELS+=" stories${m}=$MODELS_DIR/stories${m}_random.bin"
  done
fi
[[ -x $FORMA_RUN ]] || { echo "no forma-run at $FORMA_RUN (set FORMA_RUN)" >&2; exit 1; }
RESULTS=$(mktemp)

tok_for() { [[ $1 == stories260K ]] && echo "$SMALL_TOK" || echo "$BIG_TOK"; }
achieved() { grep -o 'achieved tok/s: [0-9.]*' | awk '{print $3}'; }

run_forma() {  # model path threads
  FORMA_NUM_THREADS=$3 OMP_NUM_THREADS=$3 "$FORMA_RUN" "$2" -z "$(tok_for "$1")" -t 0 -n "$STEPS" -a "$ARITH" \
    2>&1 >/dev/null | achieved
}
run_runc() {  # model path threads
  local bin=$RUNC
  [[ $3 -gt 1 ]] && bin=$RUNC_OMP
  OMP_NUM_THREADS=$3 "$bin" "$2" -z "$(tok_for "$1")" -t 0 -n "$STEPS" 2>&1 >/dev/null | achieved
}

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round" >&2
  for spec in $MODELS; do
    name=${spec%%=*} path=${spec#*=}
    for t in $THREADS; do
      if (( round % 2 )); then
        f=$(run_forma "$name" "$path" "$t"); r=$(run_runc "$name" "$path" "$t")
      else
        r=$(run_runc "$name" "$path" "$t"); f=$(run_forma "$name" "$path" "$t")
      fi
      printf '%s\t%s\t%s\t%s\n' "$name" "$t" "$f" "$r" >> "$RESULTS"
      printf '  %-12s t=%s forma %10s  run.c %10s tok/s\n' "$name" "$t" "$f" "$r" >&2
    done
  done
done

python3 - "$RESULTS" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, t, f, r = line.split("\t")
    rows.setdefault((name, t), []).append((float(f), float(r)))
print("| model | threads | forma-run tok/s | run.c tok/s | forma / run.c (median of paired ratios) |")
print("|---|---|---|---|---|")
for (name, t), runs in rows.items():
    f = statistics.median(x for x, _ in runs)
    r = statistics.median(y for _, y in runs)
    ratio = statistics.median(x / y for x, y in runs)
    print(f"| {name} | {t} | {f:,.1f} | {r:,.1f} | {ratio:.2f}x |")
EOF
rm -f "$RESULTS"
