#!/usr/bin/env bash
# Installs the test tools that come from the npm registry, at the versions
# tests/tools/package-lock.json pins, into .cache/test-tools/node_modules
# (npm ci: the lock file exactly, or an error). Today that is two tools that
# tests/docs/test_openapi.py runs on docs/openapi.yaml: an OpenAPI 3
# schema validator and Redocly CLI, the linter (docs/redocly.yaml). Node.js and npm themselves come from scripts/setup.sh
# test. Reruns are instant while the lock file is unchanged.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	echo "usage: scripts/test-tools.sh   (npm ci of tests/tools into .cache/test-tools)"
	exit 0
fi

need_cmd node npm sha256sum
source_dir=$REPO/tests/tools
target=$CACHE/test-tools
stamp=$target/node_modules/.tinyserver-lock-sha256
want=$(cat "$source_dir/package.json" "$source_dir/package-lock.json" | sha256sum | cut -c1-64)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
	log "test tools up to date ($target)"
	exit 0
fi

mkdir -p "$target"
cp "$source_dir/package.json" "$source_dir/package-lock.json" "$target/"
# No audit or funding calls: the registry is the only service CI reaches.
(cd "$target" && npm ci --no-audit --no-fund --loglevel=error) ||
	die "npm ci failed in $target (is the npm registry reachable?)"
printf '%s\n' "$want" >"$stamp"
log "installed test tools from tests/tools/package-lock.json into $target"
