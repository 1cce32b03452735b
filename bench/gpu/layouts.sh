#!/usr/bin/env bash
# Second GPU session for issue 11: the repository cache's two 2-bit layouts on WebGPU vs the CPU (tiny-coder,
# test/e2e/workspace indexed, one completion with the repository cached, three runs each). Run like measure.sh:
#   run(command="bash .gpu/on-device.sh bash ../../bench/gpu/layouts.sh 2>&1 | tee $OUT/log.txt",
#       carry=[".gpu", "models/tiny-coder"], timeout_s=240)
# Results: $OUT/layouts.jsonl (one line per step: {step, rc, ms, result}) and $OUT/layouts-stderr.log.
set -x
OUT=${OUT:-/tmp/out}
REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
TOK="$REPO/models/tiny-coder"
mkdir -p "$OUT"
step() { # step NAME TIMEOUT CMD...
  local name=$1 limit=$2
  shift 2
  local t0 rc ms result
  t0=$(date +%s%N)
  timeout "$limit" "$@" > /tmp/step.out 2> /tmp/step.err
  rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  { echo "=== $name (rc $rc, $ms ms)"; tail -c 2000 /tmp/step.err; } >> "$OUT/layouts-stderr.log"
  result=$(tail -n 1 /tmp/step.out)
  case "$result" in "{"*) ;; *) result=null ;; esac
  echo "{\"step\":\"$name\",\"rc\":$rc,\"ms\":$ms,\"result\":$result}" | tee -a "$OUT/layouts.jsonl"
}
for provider in webgpu cpu; do
  for layout in kivi fused; do
    export REPOKV_CACHE_DIR=/tmp/layouts-$provider-$layout
    step "index-$provider-$layout" 60 node dist/cli.js index workspace --model "$TOK" --provider "$provider" \
      --quant-layout "$layout" --json -v
    for run in 1 2 3; do
      step "complete-$provider-$layout-r$run" 40 node dist/cli.js complete workspace --model "$TOK" \
        --provider "$provider" --quant-layout "$layout" --file src/main.ts --line 7 --character 0 --json
    done
  done
done
echo done
