#!/usr/bin/env bash
# Gives every global symbol an object file defines a prefix, so a second copy
# of a library (mimalloc in secure mode, beside the global mimalloc) links into
# the same binary without clashing and without overriding malloc a second time.
# The map is generated from the object itself (nm), never written by hand, and
# the result is checked: no defined global symbol may keep its old name.
set -euo pipefail

usage() {
	echo "usage: scripts/lib/prefix-symbols.sh [-h] NM OBJCOPY PREFIX INPUT.o OUTPUT.o OUTPUT.map"
}

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	usage
	exit 0
fi
if (($# != 6)); then
	usage >&2
	exit 2
fi
nm=$1 objcopy=$2 prefix=$3 input=$4 output=$5 map=$6

[[ $prefix =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || {
	echo "prefix-symbols: prefix '$prefix' is not a C identifier" >&2
	exit 1
}

# nm prints "ADDRESS TYPE NAME" for defined symbols; sorted so the map is
# byte-for-byte the same on every build.
"$nm" --defined-only -g "$input" | awk -v p="$prefix" 'NF == 3 { print $3, p $3 }' |
	LC_ALL=C sort -u >"$map.tmp"
[[ -s $map.tmp ]] || {
	echo "prefix-symbols: $input defines no global symbol" >&2
	exit 1
}
"$objcopy" --redefine-syms="$map.tmp" "$input" "$output.tmp"

left=$("$nm" --defined-only -g "$output.tmp" | awk -v p="$prefix" 'NF == 3 && index($3, p) != 1 { print $3 }')
if [[ -n $left ]]; then
	echo "prefix-symbols: still defined without the prefix:" >&2
	echo "$left" >&2
	exit 1
fi
mv "$map.tmp" "$map"
mv "$output.tmp" "$output"
