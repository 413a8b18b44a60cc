/*
 * metrics_exposition.h - GET /metrics: the counters of metrics.h, the live
 * gauges and the build facts in the Prometheus text format (0.0.4).
 */
#ifndef TINYSERVER_METRICS_EXPOSITION_H
#define TINYSERVER_METRICS_EXPOSITION_H

#include "build_info.h"
#include "metrics.h"

#include <stddef.h>
#include <stdint.h>

/* Live values that are read, not counted, at scrape time. */
struct metrics_gauges {
    unsigned open_connections;
    unsigned inflight_requests;
    unsigned open_tls_connections;
    uint64_t tls_handshakes_full;
    uint64_t tls_handshakes_resumed;
    size_t resident_bytes;
    size_t peak_resident_bytes;
    size_t allocator_committed_bytes; /* 0 when the allocator does not say */
};

/* Returns the exposition text (malloc'd, caller frees) or NULL when out of
 * memory. */
char *metrics_exposition_render(struct metrics *metrics, const struct metrics_gauges *gauges,
                                const struct build_info *build);

#endif
