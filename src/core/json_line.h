/*
 * json_line.h - a cJSON document as the text every JSON body is: compact,
 * on one line, ending in '\n' (so `curl` output ends cleanly in a
 * terminal). Shared by the HTTP layer's error bodies and the application's
 * bodies (json.h).
 */
#ifndef TINYSERVER_JSON_LINE_H
#define TINYSERVER_JSON_LINE_H

#include <cJSON.h>

#include <stdbool.h>

/* Prints `doc` and frees it, whatever happens. `complete` false says an
 * add to the document failed (cJSON skips a NULL child, so it would show
 * as a missing key): then nothing is printed. Returns the malloc'd,
 * NUL-terminated text, or NULL when out of memory or not complete. */
char *json_line_take(cJSON *doc, bool complete);

#endif
