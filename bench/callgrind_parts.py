#!/usr/bin/env python3
"""Where one keep-alive GET /healthz request's instructions go, by part of
the server, from two callgrind profiles of tinyserver: one that served N
requests and one that served 2N (bench/http.sh --mode instructions makes
them). Each part is the inclusive cost of a few functions, plus or minus
others, differenced between the two runs and divided by N, so start-up and
shutdown cancel out. The parts are disjoint on this request's path (the
"-" terms take out what a function calls that another part counts);
"event loop and the rest" is the total minus the named parts.

usage: callgrind_parts.py N PROFILE_N PROFILE_2N [BEFORE_PROFILE_N BEFORE_PROFILE_2N]
prints a Markdown table (a "before" column too when two more are given)."""
import re
import subprocess
import sys

# (part, functions added, functions taken out), by function name as
# callgrind_annotate prints it after the file name.
PARTS = [
    ("libmicrohttpd: receiving (recv, last-activity bookkeeping)",
     ["MHD_connection_handle_read"], []),
    ("libmicrohttpd: parsing the request line and headers",
     ["get_req_headers", "unescape_wrapper"], ["MHD_connection_alloc_memory_"]),
    ("tinyserver: checks on the head (target, Host, body framing)",
     ["on_request_line", "http_judge_head"], []),
    ("tinyserver: routing, query and handler",
     ["dispatch"], ["http_queue_answer", "http_queue_fixed"]),
    ("response creation and queueing",
     ["http_queue_answer", "http_queue_fixed", "MHD_destroy_response"], []),
    ("libmicrohttpd: response header (status line, Date, Content-Length)",
     ["build_header_response"], []),
    ("libmicrohttpd: sending (sendmsg)",
     ["MHD_connection_handle_write"], []),
    ("request state (allocate, copy, free), client address, timing",
     ["on_request", "on_completed"],
     ["dispatch", "http_judge_head", "http_deadline_pause", "http_deadline_restart",
      "metrics_record_request", "log_access"]),
    ("metrics", ["metrics_record_request"], []),
    ("request deadlines", ["http_deadline_pause", "http_deadline_restart"], []),
    ("access log (filtered out at --log-level warn)", ["log_access"], []),
    ("memory pool (libmicrohttpd)",
     ["MHD_pool_reset", "MHD_pool_deallocate", "MHD_connection_alloc_memory_"], []),
]

LINE = re.compile(r"^\s*([\d,]+)\s+\([^)]*\)\s+(?:\S*:)?(\S+) \[")
TOTAL = re.compile(r"^\s*([\d,]+)\s+\([^)]*\)\s+PROGRAM TOTALS")


def inclusive_costs(profile):
    """Inclusive instructions by function name, and the program total."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", profile],
                          capture_output=True, text=True, check=True).stdout
    costs, total = {}, None
    for line in text.splitlines():
        match = TOTAL.match(line)
        if match:
            total = int(match.group(1).replace(",", ""))
            continue
        match = LINE.match(line)
        if match:
            name = match.group(2)
            costs[name] = max(costs.get(name, 0), int(match.group(1).replace(",", "")))
    if total is None:
        raise SystemExit(f"{profile}: no PROGRAM TOTALS line")
    return costs, total


def per_request(n, profile_n, profile_2n):
    """Per-request instructions of each part and of the whole, N vs 2N."""
    (once, once_total), (twice, twice_total) = inclusive_costs(profile_n), inclusive_costs(profile_2n)

    def part(added, taken):
        cost = sum(twice.get(f, 0) - once.get(f, 0) for f in added)
        cost -= sum(twice.get(f, 0) - once.get(f, 0) for f in taken)
        return cost / n

    parts = [(name, part(added, taken)) for name, added, taken in PARTS]
    total = (twice_total - once_total) / n
    parts.append(("event loop (epoll, timeouts) and the rest", total - sum(c for _, c in parts)))
    return parts, total


def main():
    if len(sys.argv) not in (4, 6):
        raise SystemExit(__doc__.splitlines()[-2].strip())
    n = int(sys.argv[1])
    after, after_total = per_request(n, sys.argv[2], sys.argv[3])
    before = None
    if len(sys.argv) == 6:
        before, before_total = per_request(n, sys.argv[4], sys.argv[5])
    if before:
        print("| part | before | after |")
        print("| --- | ---: | ---: |")
        for (name, cost), (_, old) in zip(after, before):
            print(f"| {name} | {old:,.0f} | {cost:,.0f} |")
        print(f"| **total** | **{before_total:,.0f}** | **{after_total:,.0f}** |")
    else:
        print("| part | instructions |")
        print("| --- | ---: |")
        for name, cost in after:
            print(f"| {name} | {cost:,.0f} |")
        print(f"| **total** | **{after_total:,.0f}** |")


if __name__ == "__main__":
    main()
