#!/usr/bin/env bash
# Regenerates the configuration table in README.md from the binary's option
# table (tinyserver --help-markdown). tests/docs/test_docs.py fails
# when the two differ; run this after adding or changing an option.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	echo "usage: scripts/readme-config.sh [BINARY]   (default: build/src/tinyserver)"
	exit 0
fi
binary=${1:-$REPO/build/src/tinyserver}
[[ -x $binary ]] || die "no binary at $binary (run scripts/build.sh)"
table=$(mktemp)
trap 'rm -f "$table"' EXIT
"$binary" --help-markdown >"$table"
/usr/bin/python3 - "$REPO/README.md" "$table" <<'PY'
import re
import sys
readme_path, table_path = sys.argv[1], sys.argv[2]
readme = open(readme_path).read()
table = open(table_path).read()
pattern = re.compile(r"(<!-- config-table:begin -->\n).*?(<!-- config-table:end -->)", re.S)
if not pattern.search(readme):
    sys.exit("README.md lacks the config-table markers")
open(readme_path, "w").write(pattern.sub(lambda m: m.group(1) + table + m.group(2), readme))
PY
log "README.md configuration table updated"
