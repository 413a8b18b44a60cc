"""What the tests read of a process in /proc: descriptors, threads, CPU time,
the CPUs it may use; and waiting for such a value to settle."""
import os
import time
from pathlib import Path

import pytest

from bounds import POLL_INTERVAL_S, SETTLE_BOUND_S


def available_cpus():
    """What the server should use as its default thread count: the affinity
    mask, lowered by a cgroup CPU quota if one applies to this process."""
    cpus = len(os.sched_getaffinity(0))
    quota = _cgroup_cpu_quota()
    return min(cpus, quota) if quota else cpus


def _cgroup_cpu_quota():
    limits = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        hid, controllers, path = line.split(":", 2)
        if hid == "0" and controllers == "":
            roots, reader = [Path("/sys/fs/cgroup")], _v2_quota
        elif "cpu" in controllers.split(","):
            roots = [Path("/sys/fs/cgroup/cpu,cpuacct"), Path("/sys/fs/cgroup/cpu")]
            reader = _v1_quota
        else:
            continue
        parts = [p for p in path.split("/") if p]
        for root in roots:
            for depth in range(len(parts), -1, -1):
                limit = reader(root.joinpath(*parts[:depth]))
                if limit:
                    limits.append(limit)
    return min(limits) if limits else None


def _ceil_cpus(quota, period):
    return max(1, -(-quota // period)) if period > 0 else None


def _v2_quota(directory):
    try:
        quota, period = (directory / "cpu.max").read_text().split()
        return None if quota == "max" else _ceil_cpus(int(quota), int(period))
    except (OSError, ValueError):
        return None


def _v1_quota(directory):
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return _ceil_cpus(quota, period) if quota > 0 else None


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def fd_listing(pid):
    entries = []
    for name in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        try:
            entries.append(f"{name} -> {os.readlink(f'/proc/{pid}/fd/{name}')}")
        except OSError:
            pass
    return "\n".join(entries)


def status_field(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settled(read, bound_s=SETTLE_BOUND_S, quiet_s=1.0):
    """The value of read() once it has not changed for quiet_s."""
    deadline = time.monotonic() + bound_s
    value, since = read(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL_S * 5)
        current = read()
        if current != value:
            value, since = current, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return value
    pytest.fail(f"value never settled within {bound_s}s (last {value})")


def wait_until(predicate, bound_s, describe):
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(POLL_INTERVAL_S * 5)
    pytest.fail(f"not within {bound_s}s: {describe()}")
