#!/usr/bin/env bash
# One GPU measurement session for issue 11, run by the lead from the project root as
#   run(command="bash .gpu/on-device.sh bash ../../bench/gpu/measure.sh 2>&1 | tee $OUT/log.txt",
#       carry=[".gpu", "models/tiny-coder"], timeout_s=420)
# (../shared/gpu/prepare.sh first). on-device.sh runs it inside the slim app (.gpu/app: dist/cli.js, dist/bench.js,
# hence ../../ to this file), with $REPO the project root. A dry run here, on the tiny model and the CPU only:
#   MEASURE_MODEL=models/tiny-coder PROVIDERS=cpu OUT=/tmp/measure bash bench/gpu/measure.sh
# Device time is scarce (15 minutes a session, starts included), so the steps run in order of importance and each
# one is skipped once the overall budget (BUDGET_S) is spent; every step also has its own timeout, so one failure
# (no WebGPU adapter, a slow graph build) costs that step only. Results: $OUT/results.jsonl (one line per step:
# {step, rc, ms, result}) and $OUT/stderr.log (each step's stderr tail; -v logs name the provider that ran).
#
# What it measures:
#   generate: random-weight checkpoint of Qwen2.5-Coder-0.5B's shape, 1,061-token prompt + 32 greedy tokens, weight
#             bits 4 and 32, WebGPU and CPU (target: <= 150 ms on the H200 through WebGPU); the second run of a pair
#             is the figure (the first builds shaders and warms up); on WebGPU both activation precisions, fp16
#             (what `auto` runs there) and float32 (`--activations float32`), the CPU float32 only;
#   complete: tiny-coder, test/e2e/workspace indexed, one completion with the repository cached, WebGPU vs CPU;
#   device-state: state on the device (issue 11 item 2; on by default on WebGPU, so generate and complete above run
#             it): bench device-state, the host path against the device-state path interleaved in one process,
#             1,061 random prompt tokens + 32 greedy, 4-bit weights; plus one generate and one complete on the host
#             path (REPOKV_DEVICE_STATE=off) to compare with the figures measured before it existed;
#   engine:   bench engine at 1,024 tokens of context, prefill and decode tokens/s (WebGPU: fp16, then float32
#             activations), if time is left;
#   operators: bench engine with the plain and the contrib-operator graph on the GPU (4-bit), if time is left.
set -x
OUT=${OUT:-/tmp/out}
REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
mkdir -p "$OUT"
export REPOKV_CACHE_DIR=/tmp/repokv-gpu-cache
CKPT=${MEASURE_MODEL:-/tmp/q05}
PROVIDERS=${PROVIDERS:-webgpu cpu}
PROMPT="$REPO/bench/gpu/prompt-1061.txt"
TOK="$REPO/models/tiny-coder"
STEP_S=${STEP_S:-90}
BUDGET_S=${BUDGET_S:-330}
STARTED=$(date +%s)

step() { # step NAME TIMEOUT CMD...: one measurement; its JSON stdout and its status go to results.jsonl
  local name=$1 limit=$2
  shift 2
  local left=$((BUDGET_S - ($(date +%s) - STARTED)))
  if [ "$left" -lt 10 ]; then echo "{\"step\":\"$name\",\"skipped\":\"budget spent\"}" >> "$OUT/results.jsonl"; return 0; fi
  [ "$limit" -gt "$left" ] && limit=$left
  local tmp
  tmp=$(mktemp -d)
  local t0
  t0=$(date +%s%N)
  timeout "$limit" "$@" > "$tmp/out" 2> "$tmp/err"
  local rc=$?
  local ms=$((($(date +%s%N) - t0) / 1000000))
  # Only 8 files come back from $OUT: everything is appended to two of them.
  { echo "=== $name (rc $rc, $ms ms)"; tail -c 3000 "$tmp/err"; } >> "$OUT/stderr.log"
  local result
  result=$(tail -n 1 "$tmp/out")
  case "$result" in "{"*) ;; *) result=null ;; esac
  echo "{\"step\":\"$name\",\"rc\":$rc,\"ms\":$ms,\"result\":$result}" | tee -a "$OUT/results.jsonl"
  rm -rf "$tmp"
  return 0
}

nproc; free -g | head -2

# 1. The checkpoint: Python's generator is the quickest there (torch); our own generator as the fallback.
if [ -z "${MEASURE_MODEL:-}" ]; then
  step make-checkpoint-py 60 python3 "$REPO/.gpu/random_checkpoint.py" "$CKPT" "$TOK"
  [ -f "$CKPT/model.safetensors" ] || step make-checkpoint 120 node dist/bench.js make-checkpoint \
    --shape qwen2.5-coder-0.5b --out "$CKPT" --tokenizer-dir "$TOK"
fi

# 2. Graphs for both weight precisions, both activation precisions and both state paths, built once on the CPU
# provider (the graph cache is shared by providers: the fp16 device-state graphs WebGPU's `auto` opens are built here
# too, not inside a timed WebGPU step; REPOKV_DEVICE_STATE=on builds that variant on the CPU), in parallel: the 4-bit
# builds are single-threaded quantization, the exact ones mostly writing 2 GB (1 GB in fp16).
# The state-on graphs are the ones WebGPU opens, so they are built with its operators (contrib: `auto` on a GPU);
# the state-off ones serve the CPU (plain at 32 bits) and the 4-bit host path (contrib at 4 bits either way).
for bits in 4 32; do
  for act in float32 float16; do
    for state in off on; do
      ops=auto
      [ "$state" = on ] && ops=contrib
      step "build-w$bits-$act-state-$state" 200 env REPOKV_DEVICE_STATE=$state node dist/cli.js generate \
        --model "$CKPT" --provider cpu --weight-bits "$bits" --activations "$act" --operators "$ops" \
        --prompt "def f(" --max-tokens 1 --json &
    done
  done
done
wait

# 3. generate, most important first: WebGPU at 4 and 32 bits with fp16 then float32 activations (two runs each),
# then the CPU on the same machine (float32: what `auto` runs there).
for provider in $PROVIDERS; do
  for bits in 4 32; do
    for act in float16 float32; do
      [ "$provider" = cpu ] && [ "$act" = float16 ] && continue
      for run in 1 2; do
        [ "$provider" = cpu ] && [ "$run" = 1 ] && continue # the CPU needs no shader warm-up
        step "generate-$provider-w$bits-$act-r$run" "$STEP_S" node dist/cli.js generate --model "$CKPT" \
          --provider "$provider" --weight-bits "$bits" --activations "$act" --prompt-file "$PROMPT" --max-tokens 32 \
          --temperature 0 --json -v
      done
    done
  done
done

# 3b. State on the device: host path vs device-state path in one process (interleaved runs, medians, same-token
# check), then the host path through the CLI once (the generate steps above ran the device-state default).
for provider in $PROVIDERS; do
  step "device-state-$provider-w4" "$STEP_S" node dist/bench.js device-state --model "$CKPT" --provider "$provider" \
    --weight-bits 4 --context 1061 --tokens 32 --runs 3 --json
  [ "$provider" = cpu ] && continue # the CPU's default is the host path: the generate steps measured it
  step "generate-$provider-w4-hostpath" "$STEP_S" env REPOKV_DEVICE_STATE=off node dist/cli.js generate \
    --model "$CKPT" --provider "$provider" --weight-bits 4 --prompt-file "$PROMPT" --max-tokens 32 --temperature 0 \
    --json -v
done

# 4. complete with the repository cached (tiny-coder, the e2e workspace), per provider in its own cache.
for provider in $PROVIDERS; do
  export REPOKV_CACHE_DIR=/tmp/repokv-gpu-cache-$provider
  step "index-$provider" 60 node dist/cli.js index workspace --model "$TOK" --provider "$provider" --json
  for run in 1 2 3; do
    step "complete-$provider-r$run" 40 node dist/cli.js complete workspace --model "$TOK" --provider "$provider" \
      --file src/main.ts --line 7 --character 0 --json
  done
  [ "$provider" = cpu ] && continue
  step "complete-$provider-hostpath" 40 env REPOKV_DEVICE_STATE=off node dist/cli.js complete workspace --model "$TOK" \
    --provider "$provider" --file src/main.ts --line 7 --character 0 --json
done
export REPOKV_CACHE_DIR=/tmp/repokv-gpu-cache

# 5. bench engine at 1,024 tokens of context (prefill and decode tokens/s), if time is left.
for provider in $PROVIDERS; do
  for act in float16 float32; do
    [ "$provider" = cpu ] && [ "$act" = float16 ] && continue
    step "engine-$provider-$act" 120 node dist/bench.js engine --model "$CKPT" --provider "$provider" \
      --activations "$act" --weight-bits 4,32 --contexts 1024 --runs 2 --json
  done
done

# 6. The contrib operators against the plain ones on the GPU (what `auto` runs there vs the plain graph), if time is
# left: interleaved runs in one process, per-run ratios (prefillVsOnnx, decodeVsOnnx).
for provider in $PROVIDERS; do
  [ "$provider" = cpu ] && continue
  step "operators-$provider" 120 node dist/bench.js engine --model "$CKPT" --provider "$provider" \
    --weight-bits 4 --operators onnx,contrib --contexts 1024 --runs 2 --json
done

echo done
