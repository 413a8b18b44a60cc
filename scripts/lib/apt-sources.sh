# shellcheck shell=bash
# The one reader of apt's source files, in both of apt's formats: deb822
# stanzas (*.sources) and one-line entries (sources.list, *.list). For
# scripts/setup.sh (the deb-src entries deps.sh needs, from the machine's
# deb entries) and scripts/container-bases.sh (the mirror to bootstrap the
# builder from). Sourced after scripts/lib/common.sh, never run.

# apt_source_files DIR [EXCLUDE]: the source files under DIR (/etc/apt) that
# exist, one a line: sources.list, then sources.list.d's *.list, then its
# *.sources; EXCLUDE (a file of the caller's own) is left out.
apt_source_files() {
	local dir=$1 exclude=${2:-} f
	for f in "$dir/sources.list" "$dir"/sources.list.d/*.list "$dir"/sources.list.d/*.sources; do
		if [[ -f $f && $f != "$exclude" ]]; then
			printf '%s\n' "$f"
		fi
	done
}

# APT_SOURCES_AWK: an awk program that reads source files (as its input
# files; a name ending in .sources is deb822, any other one-line) and calls
# the caller's function
#
#   apt_entry(file, types, uris, suites, components, signed_by)
#
# once per entry, in file order. Each argument but file is the field's
# words, separated by spaces (one-line entries: types is "deb" or
# "deb-src"); signed_by keeps a key written into the stanza as its lines,
# "\n" before each. Comments and stanzas with "Enabled: no" are left out.
# The caller puts its apt_entry (and BEGIN or END, run after this program's
# own) after the text:
#
#   awk "$APT_SOURCES_AWK"'function apt_entry(file, types, uris, suites, components, signed_by) { ... }' FILE...
#
# apt_has_word(list, word) is also defined: whether WORD is one of LIST's words.
# shellcheck disable=SC2034 # APT_SOURCES_AWK is for the sourcing scripts
APT_SOURCES_AWK='
function apt_has_word(list, word,   n, w, i) {
	n = split(list, w, /[ \t]+/)
	for (i = 1; i <= n; i++) if (w[i] == word) return 1
	return 0
}
function apt_flush() {
	if (apt_types != "" && tolower(apt_enabled) != "no")
		apt_entry(apt_file, apt_types, apt_uris, apt_suites, apt_components, apt_signed_by)
	apt_types = apt_uris = apt_suites = apt_components = apt_signed_by = apt_enabled = ""
	apt_key = ""
}
function apt_words(text) {
	gsub(/[ \t]+/, " ", text)
	sub(/^ /, "", text)
	sub(/ $/, "", text)
	return text
}
FNR == 1 { apt_flush() }
FILENAME ~ /\.sources$/ {
	if ($0 ~ /^[ \t]*$/) { apt_flush(); next }
	if ($0 ~ /^#/) next
	if ($0 ~ /^[ \t]/) {
		# A continuation line: a key written out in full, or more words.
		if (apt_key == "signed-by") apt_signed_by = apt_signed_by "\n" $0
		else if (apt_key == "types") apt_types = apt_words(apt_types " " $0)
		else if (apt_key == "uris") apt_uris = apt_words(apt_uris " " $0)
		else if (apt_key == "suites") apt_suites = apt_words(apt_suites " " $0)
		else if (apt_key == "components") apt_components = apt_words(apt_components " " $0)
		next
	}
	apt_file = FILENAME
	apt_key = tolower($0); sub(/:.*/, "", apt_key)
	apt_value = $0; sub(/^[^:]*:/, "", apt_value)
	apt_value = apt_words(apt_value)
	if (apt_key == "types") apt_types = apt_value
	else if (apt_key == "uris") apt_uris = apt_value
	else if (apt_key == "suites") apt_suites = apt_value
	else if (apt_key == "components") apt_components = apt_value
	else if (apt_key == "enabled") apt_enabled = apt_value
	else if (apt_key == "signed-by") apt_signed_by = apt_value
	next
}
$1 == "deb" || $1 == "deb-src" {
	# One-line format: TYPE [option=value ...] URI SUITE [COMPONENT...]
	apt_flush()
	apt_file = FILENAME
	apt_types = $1
	apt_i = 2
	if ($2 ~ /^\[/) {
		while (apt_i <= NF) {
			apt_option = $apt_i; gsub(/[][]/, "", apt_option)
			if (apt_option ~ /^signed-by=/) { sub(/^signed-by=/, "", apt_option); apt_signed_by = apt_option }
			if ($apt_i ~ /\]$/) { apt_i++; break }
			apt_i++
		}
	}
	apt_uris = $apt_i
	apt_suites = $(apt_i + 1)
	for (apt_j = apt_i + 2; apt_j <= NF; apt_j++)
		apt_components = apt_components (apt_components == "" ? "" : " ") $apt_j
	apt_flush()
	next
}
END { apt_flush() }
'
