/*
 * log_sink.h - buffered delivery of log lines to one file descriptor: a
 * buffer per thread that logs (log_buffer.h), and a flusher thread that
 * writes out any buffer whose oldest line has waited flush_ms.
 *
 * Buffered lines go out with one write(2) per batch; a line is never split
 * between writes and never mixed into another thread's batch, because each
 * batch is one thread's whole lines. A line that must go out now
 * (log_sink_put_now) first flushes every buffer, so the file stays in
 * order around it.
 *
 * The sink owns everything it allocates: the registry of buffers, the
 * thread-specific key that finds the calling thread's buffer, and the
 * flusher. It does not own the descriptor. Lines still in buffers when the
 * process is killed (SIGKILL, a crash) are lost: at most flush_ms worth.
 */
#ifndef TINYSERVER_LOG_SINK_H
#define TINYSERVER_LOG_SINK_H

#include <stdbool.h>
#include <stddef.h>

struct log_sink;

/* Starts buffering for fd: buffer_size bytes per thread (>= 1), written
 * out after flush_ms (>= 1) at the latest. The flusher thread starts with
 * every signal blocked, so signals keep going to the threads that wait for
 * them. Returns NULL, with a message in err, on failure. */
struct log_sink *log_sink_start(int fd, size_t buffer_size, unsigned flush_ms, char *err,
                                size_t err_size);

/* Adds one whole line (len bytes, ending in '\n') to the calling thread's
 * buffer, creating it on the thread's first line. Without memory for a
 * buffer, the line is written at once instead. */
void log_sink_put(struct log_sink *sink, const char *line, size_t len);

/* Writes every buffer out, then the line itself, at once. */
void log_sink_put_now(struct log_sink *sink, const char *line, size_t len);

/* Writes every buffer out. Safe from any thread, at any time. */
void log_sink_flush(struct log_sink *sink);

/* Stops the flusher, writes every buffer out and frees the sink. No other
 * thread may use it any more. NULL is ignored. */
void log_sink_stop(struct log_sink *sink);

#endif
