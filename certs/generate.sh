#!/usr/bin/env bash
# Generates a development CA and server certificates for localhost, in an EC
# (P-256) and an RSA (2048) variant, with openssl. Nothing generated here is
# committed (.gitignore); rerun to replace everything.
#
#   ca.crt / ca.key                  the development CA (trust ca.crt in curl)
#   server-ec.crt / server-ec.key    EC P-256 server certificate and key
#   server-rsa.crt / server-rsa.key  RSA 2048 server certificate and key
#   server.crt / server.key          copies of the EC pair, the default
set -euo pipefail

usage() {
	echo "usage: certs/generate.sh [-h] [OUTPUT_DIR]   (default: the certs/ directory)"
}
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	usage
	exit 0
fi
out=${1:-$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)}
mkdir -p "$out"
command -v openssl >/dev/null || {
	echo "generate.sh: openssl is missing (apt-get install openssl)" >&2
	exit 1
}

days=825 # the longest validity Apple platforms accept for server certificates
subject_alt_names="DNS:localhost,IP:127.0.0.1,IP:::1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Keys are created unreadable to others from the start, not only after the
# chmod below.
umask 077

openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 \
	-days "$days" -subj "/CN=tinyserver development CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-keyout "$out/ca.key" -out "$out/ca.crt" 2>/dev/null

# issue NAME KEYGEN_ARGS...: a server key (PKCS#8 PEM) and a CA-signed certificate.
issue() {
	local name=$1
	shift
	openssl genpkey "$@" -out "$out/$name.key" 2>/dev/null
	openssl req -new -key "$out/$name.key" -subj "/CN=localhost" -out "$work/$name.csr"
	printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' \
		"$subject_alt_names" >"$work/$name.ext"
	openssl x509 -req -in "$work/$name.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
		-CAcreateserial -CAserial "$work/ca.srl" -days "$days" -sha256 \
		-extfile "$work/$name.ext" -out "$out/$name.crt" 2>/dev/null
}
issue server-ec -algorithm EC -pkeyopt ec_paramgen_curve:P-256
issue server-rsa -algorithm RSA -pkeyopt rsa_keygen_bits:2048
cp "$out/server-ec.crt" "$out/server.crt"
cp "$out/server-ec.key" "$out/server.key"

# Private keys, the CA's included, are readable by their owner only. To
# mount one into the container (which runs as UID 65532), give it to that
# user (`chown 65532 server.key`) or run the container as yourself
# (`--user "$(id -u)"`); production keys belong in a secret store (see
# deploy/).
chmod 600 "$out"/*.key
chmod 644 "$out"/*.crt
echo "generate.sh: wrote ca.crt, server.crt/.key (EC P-256), server-ec.*, server-rsa.* in $out"
