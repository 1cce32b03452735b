#!/usr/bin/env bash
# One GPU measurement session for issue 11, run by the lead as
#   run(command="bash .gpu/on-device.sh bash ../../bench/gpu/measure.sh 2>&1 | tee $OUT/log.txt",
#       carry=[".gpu", "models/tiny-coder"], timeout_s=420)
# on-device.sh runs it inside the slim app (.gpu/app: dist/cli.js, dist/bench.js, hence ../../ to this file), with
# $REPO the project root. A dry run here, on the tiny model and the CPU only:
#   MEASURE_MODEL=models/tiny-coder PROVIDERS=cpu OUT=/tmp/measure bash bench/gpu/measure.sh
# Budget about 5-6 minutes (timeout_s=420 leaves room): every step has its own timeout and runs whatever the previous ones did, so one failure
# (no WebGPU adapter, a slow graph build) costs its step only. Results: $OUT/results.jsonl (one line per step:
# {step, rc, ms, result}) and $OUT/stderr.log (each step's stderr tail, -v logs name the provider that ran).
#
# What it measures, on the random-weight checkpoint of Qwen2.5-Coder-0.5B's shape:
#   generate: a 1,061-token prompt + 32 greedy tokens, weight bits 32 and 4, WebGPU and CPU (the issue's target:
#             <= 150 ms on the H200 through WebGPU), each twice (the first run builds graphs and warms up);
#   engine:   bench engine at 1,024 tokens of context, weight bits 32 and 4, prefill and decode tokens/s.
set -x
OUT=${OUT:-/tmp/out}
REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
mkdir -p "$OUT"
export REPOKV_CACHE_DIR=/tmp/repokv-gpu-cache
CKPT=${MEASURE_MODEL:-/tmp/q05}
PROVIDERS=${PROVIDERS:-webgpu cpu}
PROMPT="$REPO/bench/gpu/prompt-1061.txt"
TOK="$REPO/models/tiny-coder"
STEP_S=${STEP_S:-100}

step() { # step NAME TIMEOUT CMD...: one measurement; its JSON stdout and its status go to results.jsonl
  local name=$1 limit=$2
  shift 2
  local t0=$(date +%s%N)
  timeout "$limit" "$@" > "/tmp/step-$name.out" 2> "/tmp/step-$name.err"
  local rc=$?
  local ms=$((($(date +%s%N) - t0) / 1000000))
  # Only 8 files come back from $OUT: everything is appended to two of them.
  { echo "=== $name (rc $rc, $ms ms)"; tail -c 4000 "/tmp/step-$name.err"; } >> "$OUT/stderr.log"
  local result=$(tail -n 1 "/tmp/step-$name.out")
  case "$result" in "{"*) ;; *) result=null ;; esac
  echo "{\"step\":\"$name\",\"rc\":$rc,\"ms\":$ms,\"result\":$result}" | tee -a "$OUT/results.jsonl"
  return 0
}

nproc; free -g | head -2

# 1. The checkpoint: our own generator (same weights as the CPU figures in BENCHMARKS.md); Python as the fallback.
[ -n "${MEASURE_MODEL:-}" ] || step make-checkpoint 120 node dist/bench.js make-checkpoint --shape qwen2.5-coder-0.5b --out "$CKPT" --tokenizer-dir "$TOK"
if [ -z "${MEASURE_MODEL:-}" ] && [ ! -f "$CKPT/model.safetensors.index.json" ]; then
  rm -rf "$CKPT"
  step make-checkpoint-py 120 python3 "$REPO/.gpu/random_checkpoint.py" "$CKPT" "$TOK"
fi

# 2. Graphs for both weight precisions, built once on the CPU provider (the graph cache is shared by providers).
# In parallel: the 4-bit build is single-threaded quantization, the exact one mostly writing 2 GB.
for bits in 4 32; do
  step "build-w$bits" 200 node dist/cli.js generate --model "$CKPT" --provider cpu --weight-bits "$bits" \
    --prompt "def f(" --max-tokens 1 --json &
done
wait

# 3. generate: 1,061-token prompt + 32 tokens; the second run of each pair is the figure.
for provider in $PROVIDERS; do
  for bits in 4 32; do
    for run in 1 2; do
      step "generate-$provider-w$bits-r$run" "$STEP_S" node dist/cli.js generate --model "$CKPT" --provider "$provider" \
        --weight-bits "$bits" --prompt-file "$PROMPT" --max-tokens 32 --temperature 0 --json -v
    done
  done
done

# 4. bench engine at 1,024 tokens of context (prefill and decode tokens/s), both precisions per provider.
for provider in $PROVIDERS; do
  step "engine-$provider" 150 node dist/bench.js engine --model "$CKPT" --provider "$provider" --weight-bits 4,32 \
    --contexts 1024 --runs 3 --json
done

echo done
