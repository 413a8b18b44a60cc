"""The descriptor limit at startup (issue 18, finding 4).

Every connection costs a descriptor and every TLS connection two more (the
TCP socket and the relay's end of the socketpair; the HTTP end counts in
--max-connections), so the defaults need more than the usual soft limit of
1,024. At startup the server raises its soft RLIMIT_NOFILE as far as the
configured limits need, never past the hard limit; when even the hard limit
is too low it warns once, naming the figures, and serves anyway (as nginx
does for worker_connections). The server runs under a wrapper that lowers
its limits before exec, the way `ulimit -n` or a container runtime would.
"""
import re
import resource
import stat

import pytest

from binary import BINARY
from tls import start_tls_server


# Raising a hard limit needs CAP_SYS_RESOURCE, so the wrappers keep the
# test's own hard limit (capped, to stay realistic), which must leave room.
HARD = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 65536)
needs_room = pytest.mark.skipif(HARD < 4096, reason=f"the hard limit here is {HARD}: too low "
                                "to raise the soft limit for the default limits")


def limited(tmp_path, soft, hard):
    """A wrapper that starts the real binary under RLIMIT_NOFILE soft:hard."""
    wrapper = tmp_path / f"nofile-{soft}-{hard}.sh"
    wrapper.write_text(f'#!/bin/sh\nulimit -S -n {soft} && ulimit -H -n {hard} && '
                       f'exec "{BINARY}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper


def open_files_limit(pid):
    """(soft, hard) of the running process, from /proc/PID/limits."""
    with open(f"/proc/{pid}/limits") as limits:
        for line in limits:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no 'Max open files' in /proc/PID/limits")


def descriptor_warnings(srv):
    return [line for line in srv.stdout().splitlines()
            if re.match(r"^\S+ warn ", line) and "open files" in line]


@needs_room
def test_soft_limit_is_raised_to_what_the_limits_need(server, tmp_path):
    srv = server(binary=limited(tmp_path, 256, HARD))
    soft, hard = open_files_limit(srv.pid)
    assert hard == HARD
    assert 1024 < soft <= hard, f"soft limit {soft}: not raised for --max-connections 1024"
    assert not descriptor_warnings(srv), srv.stdout()


@needs_room
def test_tls_connections_count_twice_more(server, tmp_path, tls_files):
    plain = server(binary=limited(tmp_path, 256, HARD))
    secure = start_tls_server(server, tls_files, "ec", "--max-tls-connections", "300",
                              "--tls-threads", "3", binary=limited(tmp_path, 256, HARD))
    plain_soft = open_files_limit(plain.pid)[0]
    tls_soft = open_files_limit(secure.pid)[0]
    # Two per TLS connection, and an epoll and an eventfd per relay loop.
    assert tls_soft - plain_soft == 2 * 300 + 2 * 3, (plain_soft, tls_soft)


def test_limits_that_fit_leave_the_soft_limit_alone(server, tmp_path):
    srv = server("--max-connections", "64", binary=limited(tmp_path, 512, HARD))
    assert open_files_limit(srv.pid) == (512, HARD)
    assert not descriptor_warnings(srv), srv.stdout()


def test_hard_limit_too_low_warns_once_and_serves(server, curl, tmp_path):
    srv = server(binary=limited(tmp_path, 256, 256))
    warnings = descriptor_warnings(srv)
    assert len(warnings) == 1, srv.stdout()
    # The figures and the two remedies.
    assert re.search(r"\b256\b", warnings[0]) and re.search(r"\b1\d{3}\b", warnings[0]), warnings
    assert "--max-connections" in warnings[0] and "ulimit" in warnings[0], warnings
    assert open_files_limit(srv.pid) == (256, 256)
    assert curl(srv.url + "/healthz").status == 200
