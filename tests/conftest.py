"""The suite's fixtures, for every folder below tests/: servers of the binary
under test, curl, the long benchmark's calibration and the TLS material.
The helpers they use are in lib/ (pytest.ini puts it on the path); the
environment the suite reads is described in lib/repo.py and lib/binary.py."""
import shutil

import pytest

from bench_token import new_token
from curl import Curl
from net import free_port
from server import Server, calibrate_long_bench, finish_all, server_factory
from tls import make_tls_files, tls_args, with_tls


@pytest.fixture
def server(tmp_path):
    """Factory: server(*extra_args, env={...}, binary=None, port=None,
    startup_timeout=STARTUP_TIMEOUT_S) -> a
    healthy Server (of another build when binary is given; on `port` when
    given, else on a free one). Each is stopped with
    SIGTERM at teardown, which must yield exit status 0."""
    start, started = server_factory(tmp_path)
    yield start
    finish_all(started)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One default server for a module whose tests do not change its state."""
    start, started = server_factory(tmp_path_factory.mktemp("shared"))
    yield start()
    finish_all(started)


@pytest.fixture
def curl(tmp_path):
    return Curl(tmp_path)


@pytest.fixture
def token(tmp_path):
    """(value, path) of a fresh bearer token in a private file."""
    return new_token(tmp_path)


@pytest.fixture(scope="session")
def long_bench_iterations():
    """Iterations for a long run of the default allocator."""
    return calibrate_long_bench()


@pytest.fixture(scope="session")
def long_comparison_iterations():
    """Iterations for a long allocator=all comparison: sized on the whole
    comparison, whose slowest allocator (musl's) can be tens of times
    slower than the default one, so a run sized for mimalloc alone would
    outlast the client's patience."""
    return calibrate_long_bench("--allocator", "all")


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """certs/generate.sh's certificates plus broken key material (lib/tls.py)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    return make_tls_files(tmp_path_factory.mktemp("tls-files"))


@pytest.fixture(scope="module")
def tls_servers(tmp_path_factory, tls_files):
    """key type -> a running TLS server for tests that do not change its
    state; started on first use, stopped (exit 0 required) at the end."""
    started = {}

    def get(key_type):
        if key_type not in started:
            workdir = tmp_path_factory.mktemp(f"tls-shared-{key_type}")
            tls_port = free_port()
            srv = Server(workdir, tls_args(tls_files, key_type, tls_port), None).start()
            started[key_type] = with_tls(srv, tls_port)
        return started[key_type]

    yield get
    finish_all(started.values())
