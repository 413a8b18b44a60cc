"""Generous time bounds that only keep a broken server from hanging the
suite; nothing is asserted about how fast anything is."""

STARTUP_TIMEOUT_S = 10.0
# scripts/serve.sh checks the packages and runs the build before it execs the
# server: 7 to 25 s on a loaded 2-CPU machine, so 10 s is no margin there.
BUILD_AND_START_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 90.0
CURL_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.02
CLOSE_BOUND_S = 15.0  # a hostile or idle client must have been closed by then
SETTLE_BOUND_S = 30.0  # fds/threads must be back to the baseline by then
OPENSSL_TIMEOUT_S = 30.0
