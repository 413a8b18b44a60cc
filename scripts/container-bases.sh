#!/usr/bin/env bash
# Makes the base images that Dockerfile and Dockerfile.alpine build FROM,
# locally, because no registry is reachable from this project's machines.
# Each is made once and reused: a base that exists is left alone, since
# replacing it would invalidate every image layer cached on top of it.
#
#   debian:bookworm-slim  (the builder)  debootstrap --variant=minbase bookworm
#       from Debian's archive, imported under that name. The rootfs tarball is
#       kept under $CACHE/containers, so a lost image is re-imported in
#       seconds instead of re-bootstrapped in minutes.
#   alpine:3.20  (Dockerfile.alpine's runtime)  used as is when the engine
#       has it. Otherwise a stand-in is made, clearly named and labelled as
#       one: busybox from Debian's busybox-static package, imported as
#       localhost/tinyserver-alpine-standin:3.20. Its size is never Alpine's.
set -euo pipefail
# shellcheck source=scripts/container.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/container.sh"
# shellcheck source=scripts/lib/apt-sources.sh
. "$REPO/scripts/lib/apt-sources.sh"

DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
DEBIAN_SUITE=bookworm
ALPINE_IMAGE=docker.io/library/alpine:3.20
STANDIN_IMAGE=localhost/tinyserver-alpine-standin:3.20
# Images built on the stand-in inherit this label, which is how the size
# report knows to mark their row.
STANDIN_LABEL=io.tinyserver.standin-for
DIR=$CACHE/containers

usage() {
	cat <<EOF
usage: scripts/container-bases.sh [-h] [--print-alpine]
Make the local base images (debian:bookworm-slim, and alpine:3.20 or its
stand-in $STANDIN_IMAGE) unless they exist.
  --print-alpine  then print the image to pass as --build-arg ALPINE_IMAGE
EOF
}

# The main archive's URI from this machine's apt sources (deb822 first, then
# the one-line format): the base is bootstrapped from the mirror apt uses.
debian_mirror() {
	local files uri=
	mapfile -t files < <(apt_source_files /etc/apt)
	if ((${#files[@]})); then
		uri=$(awk -v suite="$DEBIAN_SUITE" "$APT_SOURCES_AWK"'
		function apt_entry(file, types, uris, suites, components, signed_by,   u) {
			if (!apt_has_word(types, "deb") || !apt_has_word(suites, suite)) return
			split(uris, u, " ")
			if (file ~ /\.sources$/) { if (deb822 == "") deb822 = u[1] }
			else if (one_line == "") one_line = u[1]
		}
		END { print deb822 != "" ? deb822 : one_line }
		' "${files[@]}")
	fi
	printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

# slim_down ROOT: what makes Debian's official image "slim", applied to the
# bootstrapped tree: dpkg skips documentation, man pages and translations,
# apt keeps no .debs and gzips its lists, and what debootstrap installed is
# pruned the same way. Beyond fidelity it matters here: vfs storage copies
# the whole tree for every layer, so a smaller builder is a faster build.
slim_down() {
	local root=$1
	# Everything below deletes under $root: never let that be the host's /.
	[[ -n $root && $(cd -- "$root" && pwd -P) != / ]] || die "slim_down: refusing root '$root'"
	cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'END'
# As in Debian's slim images (tinyserver scripts/container-bases.sh): no
# docs, man pages or translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
END
	# Image builds are thrown away on failure, so fsync per file buys nothing.
	echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
	cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'END'
// As in Debian's official images (tinyserver scripts/container-bases.sh):
// no package caches left in image layers, compressed lists, no translations.
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::GzipIndexes "true";
Acquire::Languages "none";
END
	find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
	find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
	rm -rf "$root"/usr/share/{man,groff,info,lintian,linda}/*
	find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
	find "$root/var/lib/apt/lists" "$root/var/cache/apt" -type f -delete
	# The engine supplies these at run time; the host's must not be baked in.
	rm -f "$root/etc/resolv.conf" "$root/etc/hostname"
}

# import_tar TAR IMAGE [--change INSTRUCTION]...: import a rootfs tarball.
import_tar() {
	local tar=$1 image=$2
	shift 2
	# The engine prints the new image ID on stdout; this script's stdout is
	# reserved for --print-alpine.
	engine import "$@" "$tar" "$image" >&2
}

# remove_tree DIR: removes a tree this script made. debootstrap mounts /proc
# (and may mount more) inside its target and leaves the mounts behind when
# it dies; rm must never walk into them, and a later copy of the cache must
# never meet them. So: unmount whatever is mounted below DIR, deepest first,
# then remove without crossing into any other filesystem.
remove_tree() {
	local dir=$1 mount_point
	[[ -n $dir && -d $dir ]] || return 0
	while IFS= read -r mount_point; do
		umount -l -- "$mount_point" 2>/dev/null || true
	done < <(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
	rm -rf --one-file-system -- "$dir"
}

make_debian() {
	if image_exists "$DEBIAN_IMAGE"; then
		log "$DEBIAN_IMAGE exists"
		return 0
	fi
	local tar=$DIR/debian-$DEBIAN_SUITE-minbase.tar mirror root start
	if [[ ! -f $tar ]]; then
		need_root "debootstrap"
		need_cmd debootstrap
		mirror=$(debian_mirror)
		start=$(now)
		log "debootstrap --variant=minbase $DEBIAN_SUITE from $mirror (once; its tarball is then reused)"
		root=$(mktemp -d "$DIR/.rootfs.XXXXXX")
		# Removed on any exit: a half-made rootfs must never be tarred later.
		trap 'remove_tree "$root"; rm -f -- "$tar.tmp"' EXIT
		debootstrap --variant=minbase "$DEBIAN_SUITE" "$root" "$mirror" >"$DIR/debootstrap.log" 2>&1 ||
			{
				tail -n 20 "$DIR/debootstrap.log" >&2
				die "debootstrap failed (log: $DIR/debootstrap.log)"
			}
		# Like the official image: the same apt sources as this machine (updates
		# and security included), no package lists or downloaded .debs, and no
		# host identity (the engine supplies resolv.conf and hostname at run time).
		if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
			cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/debian.sources"
			rm -f "$root/etc/apt/sources.list"
		fi
		slim_down "$root"
		# mktemp made the directory 0700, and tar records it as the image's
		# "/": unprivileged users in the image (apt's _apt) could reach nothing.
		chmod 755 "$root"
		tar --numeric-owner --xattrs -C "$root" \
			--exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
			-cf "$tar.tmp" .
		mv "$tar.tmp" "$tar"
		remove_tree "$root"
		trap - EXIT
		log "bootstrapped in $(($(now) - start)) s; rootfs kept in $tar"
	fi
	import_tar "$tar" "$DEBIAN_IMAGE" --change 'CMD ["bash"]'
	log "imported $DEBIAN_IMAGE from $tar"
}

# Downloads Debian's busybox-static .deb into $DIR (apt checks it against the
# signed index), refreshing the package lists once if the version is gone.
fetch_busybox() {
	local deb tmp
	deb=$(find "$DIR" -maxdepth 1 -name 'busybox-static_*.deb' -print -quit)
	if [[ -z $deb ]]; then
		tmp=$(mktemp -d "$DIR/.deb.XXXXXX")
		chmod 755 "$tmp"
		# apt downloads as _apt when that user may write the directory (and
		# warns otherwise); the directory is dropped right after.
		if [[ $(id -u) -eq 0 ]] && id _apt >/dev/null 2>&1; then
			chown _apt "$tmp"
		fi
		(cd "$tmp" && apt-get download -q busybox-static >&2) ||
			{
				need_root "apt-get update"
				apt-get update -q -o DPkg::Lock::Timeout=300 >&2
				(cd "$tmp" && apt-get download -q busybox-static >&2)
			} || {
			rm -rf -- "$tmp"
			die "cannot download busybox-static from Debian's archive"
		}
		if [[ $(id -u) -eq 0 ]]; then
			chown 0:0 "$tmp"/busybox-static_*.deb
		fi
		mv "$tmp"/busybox-static_*.deb "$DIR/"
		rm -rf -- "$tmp"
		deb=$(find "$DIR" -maxdepth 1 -name 'busybox-static_*.deb' -print -quit)
		[[ -n $deb ]] || die "apt-get download busybox-static produced no .deb"
	fi
	printf '%s\n' "$deb"
}

make_standin() {
	if image_exists "$STANDIN_IMAGE"; then
		log "$STANDIN_IMAGE exists"
		return 0
	fi
	local deb root version applet
	deb=$(fetch_busybox)
	version=$(dpkg-deb -f "$deb" Version)
	root=$(mktemp -d "$DIR/.standin.XXXXXX")
	trap 'rm -rf -- "$root"' EXIT
	dpkg-deb -x "$deb" "$root/pkg"
	mkdir -p "$root/fs/bin" "$root/fs/etc" "$root/fs/tmp" "$root/fs/root"
	chmod 755 "$root/fs"
	chmod 700 "$root/fs/root"
	chmod 1777 "$root/fs/tmp"
	cp "$root/pkg/bin/busybox" "$root/fs/bin/busybox"
	# The applet links an Alpine base has (sh, ls, wget, ...), all to busybox.
	while IFS= read -r applet; do
		[[ $applet == bin/busybox ]] && continue
		mkdir -p "$root/fs/$(dirname -- "$applet")"
		ln -sf /bin/busybox "$root/fs/$applet"
	done < <("$root/fs/bin/busybox" --list-full)
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/:/sbin/nologin' \
		>"$root/fs/etc/passwd"
	printf '%s\n' 'root:x:0:' 'nobody:x:65534:' >"$root/fs/etc/group"
	# Whoever looks inside must not mistake it for Alpine.
	cat >"$root/fs/etc/os-release" <<EOF
NAME="tinyserver stand-in for alpine:3.20 (NOT Alpine)"
ID=tinyserver-alpine-standin
PRETTY_NAME="busybox $version from Debian's busybox-static; a local stand-in for alpine:3.20"
EOF
	tar --numeric-owner -C "$root/fs" -cf "$root/standin.tar" .
	import_tar "$root/standin.tar" "$STANDIN_IMAGE" \
		--change "LABEL $STANDIN_LABEL=alpine:3.20" \
		--change "LABEL org.opencontainers.image.description=\"Local stand-in for alpine:3.20: busybox-static $version from Debian. Not Alpine; its size is not Alpine's.\"" \
		--change 'CMD ["/bin/sh"]'
	rm -rf -- "$root"
	trap - EXIT
	log "imported $STANDIN_IMAGE (busybox-static $version)"
}

main() {
	local print=0
	parse_options "--print-alpine=print:1" "$@"
	mkdir -p "$DIR"
	# Two sessions (a test run and the size report) must not bootstrap or
	# import the same base at once.
	exec 9>"$DIR/.lock"
	flock 9
	make_debian
	local alpine=$ALPINE_IMAGE
	if image_exists "$ALPINE_IMAGE"; then
		log "$ALPINE_IMAGE exists: Dockerfile.alpine uses the real base"
	else
		log "no $ALPINE_IMAGE here (no registry): using the stand-in $STANDIN_IMAGE"
		make_standin
		alpine=$STANDIN_IMAGE
	fi
	if ((print)); then
		printf '%s\n' "$alpine"
	fi
}

main "$@"
