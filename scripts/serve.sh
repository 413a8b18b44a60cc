#!/usr/bin/env bash
# The README's first command: set up, build, and run tinyserver on :3000
# (arguments are passed to the server, e.g. --port 8080).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	echo "usage: scripts/serve.sh [TINYSERVER_OPTION]...   (build, then run the server)"
	exit 0
fi
"$REPO/scripts/build.sh"
exec "$REPO/build/src/tinyserver" "$@"
