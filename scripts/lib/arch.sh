# shellcheck shell=bash
# Target architectures: the one place that maps a Debian architecture name
# (amd64, arm64) to its GNU cross compiler, musl files and qemu-user
# emulator, and writes the musl cross toolchain that deps.sh and build.sh use.
# Sourced after lib.sh, never run.
#
# A cross build uses Debian's own packages: gcc-<cpu>-linux-gnu for the
# compiler and musl-dev:<arch> (after dpkg --add-architecture) for musl's
# libc.a, start files, headers and musl-gcc.specs. The wrapper written here is
# Debian's musl-gcc with the target's compiler and specs file.

ARCHES="amd64 arm64"

# host_arch: the machine's own Debian architecture.
host_arch() { dpkg --print-architecture; }

# arch_known ARCH: true if ARCH is one this project builds for.
arch_known() { [[ " $ARCHES " == *" $1 "* ]]; }

# arch_check ARCH: dies unless arch_known ARCH.
arch_check() { arch_known "$1" || die "unknown architecture '$1' (one of: $ARCHES)"; }

# arch_cpu ARCH: the GNU CPU name (x86_64, aarch64).
arch_cpu() {
	case $1 in
	amd64) echo x86_64 ;;
	arm64) echo aarch64 ;;
	*) die "unknown architecture '$1' (one of: $ARCHES)" ;;
	esac
}

# arch_is_cross ARCH: true when ARCH is not the machine's own.
arch_is_cross() { [[ $1 != "$(host_arch)" ]]; }

# arch_cross_packages ARCH: the Debian packages a cross build for ARCH needs.
arch_cross_packages() {
	local cpu
	cpu=$(arch_cpu "$1")
	printf 'gcc-%s-linux-gnu musl-dev:%s\n' "${cpu//_/-}" "$1"
}

# arch_qemu ARCH: qemu-user's emulator for ARCH (package qemu-user-static).
arch_qemu() { printf 'qemu-%s-static\n' "$(arch_cpu "$1")"; }

# write_if_changed FILE MODE: stdin into FILE, touching it only when its text
# changes, so that make and Meson see no new input on a rerun.
write_if_changed() {
	local file=$1 mode=$2 text
	text=$(cat)
	if [[ -f $file && $(cat "$file") == "$text" ]]; then
		return 0
	fi
	mkdir -p "$(dirname -- "$file")"
	printf '%s\n' "$text" >"$file.tmp"
	chmod "$mode" "$file.tmp"
	mv -f "$file.tmp" "$file"
}

# cross_toolchain_dir ARCH: where write_cross_toolchain puts its files.
cross_toolchain_dir() { printf '%s/toolchains/musl-%s\n' "$CACHE" "$1"; }

# write_cross_toolchain ARCH: writes, under cross_toolchain_dir,
#   <cpu>-linux-musl-gcc  the compiler wrapper (one command, so autotools,
#                         CMake and make all take it as CC);
#   meson-cross.ini       Meson's cross file, running target programs (the
#                         unit tests) under qemu-user.
# Prints the wrapper's path.
write_cross_toolchain() {
	local arch=$1 cpu dir musl_lib gnu
	cpu=$(arch_cpu "$arch")
	dir=$(cross_toolchain_dir "$arch")
	gnu=$cpu-linux-gnu
	musl_lib=/usr/lib/$cpu-linux-musl
	need_cmd "$gnu-gcc" "$gnu-ar" "$gnu-strip" "$gnu-nm" "$gnu-objcopy"
	[[ -f $musl_lib/musl-gcc.specs ]] ||
		die "no $musl_lib/musl-gcc.specs: install musl-dev:$arch (run: scripts/setup.sh cross-$arch)"
	write_if_changed "$dir/$cpu-linux-musl-gcc" 755 <<EOF
#!/bin/sh
# Written by tinyserver scripts/lib/arch.sh: Debian's musl-gcc, for $arch.
exec $gnu-gcc "\$@" -specs $musl_lib/musl-gcc.specs
EOF
	write_if_changed "$dir/meson-cross.ini" 644 <<EOF
# Written by tinyserver scripts/lib/arch.sh: static musl for $arch.
[binaries]
c = '$dir/$cpu-linux-musl-gcc'
ar = '$gnu-ar'
strip = '$gnu-strip'
nm = '$gnu-nm'
objcopy = '$gnu-objcopy'
exe_wrapper = '$(arch_qemu "$arch")'

[host_machine]
system = 'linux'
cpu_family = '$cpu'
cpu = '$cpu'
endian = 'little'
EOF
	printf '%s\n' "$dir/$cpu-linux-musl-gcc"
}
