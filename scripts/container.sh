#!/usr/bin/env bash
# The one place that knows how to drive a container engine on this project's
# machines. Every script and test goes through it, so the settings below are
# written once.
#
# docker is used when its daemon answers. Otherwise rootful podman, with what
# these hosts need (see FIELD-NOTES, "Containers without a Docker daemon"):
#   - vfs storage, on every command so that they all see the same store
#     (overlay needs kernel support the hosts do not promise);
#   - runc and cgroupfs: crun refuses the hybrid cgroup layout, and there is
#     no systemd to manage cgroups;
#   - build: chroot isolation, host network (the builder reaches Debian's
#     archive), --pull=never (no registry is reachable; the bases are made
#     locally by scripts/container-bases.sh), docker format (OCI-format
#     images drop HEALTHCHECK);
#   - run/create: host network, and explicit ulimits because podman's
#     defaults are not permitted here;
#   - kube play: the same ulimits, through scripts/lib/kube-containers.conf (it
#     has no --ulimit), and podman's own bridge network: with host networking
#     podman 4.3 refuses the pod's containerPorts. Each containerPort is
#     published on the host under the same number. The pod's infra container
#     needs catatonit.
# containers.conf cannot hold all of this: podman 4.3 ignores its
# image_default_format for builds, and chroot isolation is a flag or an
# environment variable. Hence flags, here, and nowhere else.
#
# Containers share the host's network with either engine, so the tests and
# the size report reach a container on the port they give it with -e PORT.
#
# Run it as the engine, or source it and call `engine`:
#   scripts/container.sh build -t tinyserver .
#   scripts/container.sh run --rm tinyserver --version
# TINYSERVER_ENGINE=docker|podman skips the detection.

# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

PODMAN_GLOBAL=(--storage-driver vfs --runtime runc --cgroup-manager cgroupfs)
PODMAN_BUILD=(--isolation chroot --network host --pull=never --format docker)
# --network host must stay first in both run lists (see has_network_option).
PODMAN_RUN=(--network host --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
DOCKER_RUN=(--network host)

# Sets ENGINE to docker or podman; returns 1 when neither is usable. The
# answer is exported so that child scripts do not ask again.
engine_detect() {
	if [[ -n ${TINYSERVER_ENGINE:-} ]]; then
		case $TINYSERVER_ENGINE in
		docker | podman) ENGINE=$TINYSERVER_ENGINE ;;
		*) die "TINYSERVER_ENGINE must be docker or podman, not '$TINYSERVER_ENGINE'" ;;
		esac
	elif command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1; then
		# A docker client alone is common (it is here): only a daemon that
		# answers makes docker usable.
		ENGINE=docker
	elif command -v podman >/dev/null 2>&1; then
		ENGINE=podman
	else
		return 1
	fi
	export TINYSERVER_ENGINE=$ENGINE
}

# engine SUBCOMMAND [ARG]... : the engine with this host's settings. Only the
# short subcommand names get the extra flags (build, run, create), which is
# all this project uses.
engine() {
	[[ -n ${ENGINE:-} ]] || engine_detect ||
		die "no container engine: no docker daemon answers and podman is not installed (run: scripts/setup.sh container)"
	local sub=${1:?engine needs a subcommand}
	shift
	local run_opts
	if [[ $ENGINE == docker ]]; then
		run_opts=("${DOCKER_RUN[@]}")
	else
		run_opts=("${PODMAN_RUN[@]}")
	fi
	# A caller that picks a network (e.g. --network none, to see the image's
	# own default port) gets it instead of the host's: the engines reject or
	# silently resolve two --network options.
	if has_network_option "$@"; then
		run_opts=("${run_opts[@]:2}")
	fi
	if [[ $ENGINE == docker ]]; then
		case $sub in
		run | create) docker "$sub" "${run_opts[@]}" "$@" ;;
		*) docker "$sub" "$@" ;;
		esac
		return
	fi
	case $sub in
	build) podman "${PODMAN_GLOBAL[@]}" build "${PODMAN_BUILD[@]}" "$@" ;;
	run | create) podman "${PODMAN_GLOBAL[@]}" "$sub" "${run_opts[@]}" "$@" ;;
	kube) CONTAINERS_CONF=$REPO/scripts/lib/kube-containers.conf podman "${PODMAN_GLOBAL[@]}" kube "$@" ;;
	*) podman "${PODMAN_GLOBAL[@]}" "$sub" "$@" ;;
	esac
}

# True if the arguments choose a network. All arguments are looked at, the
# container's own included: this project never passes it a --network.
has_network_option() {
	local a
	for a in "$@"; do
		case $a in --network | --network=* | --net | --net=*) return 0 ;; esac
	done
	return 1
}

# image_exists NAME: true if the engine has the image locally.
image_exists() {
	engine image inspect "$1" >/dev/null 2>&1
}

container_usage() {
	cat <<EOF
usage: scripts/container.sh [-h] [--engine] SUBCOMMAND [ARG]...
Run docker (when its daemon answers) or podman with this host's settings.
  --engine   print the engine that would be used (exit 1 if there is none)
EOF
}

container_main() {
	case ${1:-} in
	-h | --help) container_usage ;;
	"")
		container_usage >&2
		exit 2
		;;
	--engine)
		engine_detect || exit 1
		printf '%s\n' "$ENGINE"
		;;
	*) engine "$@" ;;
	esac
}

# Executed rather than sourced: act as the engine.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -euo pipefail
	container_main "$@"
fi
