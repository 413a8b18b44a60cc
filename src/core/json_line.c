/*
 * json_line.c - see json_line.h.
 */
#include "json_line.h"

#include <stdlib.h>
#include <string.h>

char *json_line_take(cJSON *doc, bool complete)
{
    char *text = complete && doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (text == NULL) {
        return NULL;
    }
    size_t len = strlen(text);
    char *line = realloc(text, len + 2);
    if (line == NULL) {
        free(text);
        return NULL;
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    return line;
}
