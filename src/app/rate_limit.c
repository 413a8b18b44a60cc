/*
 * rate_limit.c - the per-client token bucket; see rate_limit.h.
 */
#include "rate_limit.h"
#include "array.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1000000000ull

static const struct {
    const char *name;
    unsigned seconds;
    const char *canonical; /* the unit rate_spec_format writes */
} rate_units[] = {
    {"s", 1, "s"},         {"sec", 1, "s"},  {"second", 1, "s"},  {"min", 60, "min"},
    {"minute", 60, "min"}, {"h", 3600, "h"}, {"hour", 3600, "h"},
};

#define RATE_UNIT_COUNT (ARRAY_SIZE(rate_units))

struct rate_client {
    char key[RATE_CLIENT_MAX];
    uint64_t tat_ns;       /* the bucket is full again at this time */
    uint64_t last_seen_ns; /* for choosing a slot to reuse */
    bool used;
};

struct rate_limiter {
    pthread_mutex_t lock;
    uint64_t interval_ns; /* one token comes back every interval_ns */
    uint64_t burst_ns;    /* how far ahead of now the TAT may run: (count - 1) intervals */
    size_t capacity;
    struct rate_client clients[];
};

bool rate_spec_parse(const char *text, struct rate_spec *out)
{
    if (strcmp(text, "off") == 0) {
        *out = (struct rate_spec){0, 0};
        return true;
    }
    unsigned long count = 0;
    const char *p = text;
    for (; *p >= '0' && *p <= '9'; p++) {
        count = count * 10 + (unsigned long)(*p - '0');
        if (count > RATE_MAX_COUNT) {
            return false;
        }
    }
    if (p == text || count == 0 || *p != '/') {
        return false;
    }
    for (size_t i = 0; i < RATE_UNIT_COUNT; i++) {
        if (strcmp(p + 1, rate_units[i].name) == 0) {
            *out = (struct rate_spec){(unsigned)count, rate_units[i].seconds};
            return true;
        }
    }
    return false;
}

void rate_spec_format(const struct rate_spec *spec, char *buf, size_t size)
{
    if (spec->count == 0) {
        snprintf(buf, size, "off");
        return;
    }
    for (size_t i = 0; i < RATE_UNIT_COUNT; i++) {
        if (rate_units[i].seconds == spec->period_s) {
            snprintf(buf, size, "%u/%s", spec->count, rate_units[i].canonical);
            return;
        }
    }
    snprintf(buf, size, "%u/%us", spec->count, spec->period_s);
}

struct rate_limiter *rate_limiter_new(const struct rate_spec *spec, size_t capacity)
{
    if (spec->count == 0 || capacity == 0) {
        return NULL;
    }
    struct rate_limiter *limiter =
        calloc(1, sizeof(*limiter) + capacity * sizeof(struct rate_client));
    if (limiter == NULL) {
        return NULL;
    }
    if (pthread_mutex_init(&limiter->lock, NULL) != 0) {
        free(limiter);
        return NULL;
    }
    limiter->interval_ns = (uint64_t)spec->period_s * NS_PER_S / spec->count;
    limiter->burst_ns = limiter->interval_ns * (spec->count - 1);
    limiter->capacity = capacity;
    return limiter;
}

void rate_limiter_free(struct rate_limiter *limiter)
{
    if (limiter != NULL) {
        pthread_mutex_destroy(&limiter->lock);
        free(limiter);
    }
}

/* The client's slot: its own, else a free one, else one whose bucket has
 * refilled (equivalent to a new client), else the least recently seen. */
static struct rate_client *find_slot(struct rate_limiter *limiter, const char *key, uint64_t now_ns)
{
    struct rate_client *free_slot = NULL;
    struct rate_client *refilled = NULL;
    struct rate_client *oldest = NULL;
    for (size_t i = 0; i < limiter->capacity; i++) {
        struct rate_client *client = &limiter->clients[i];
        if (!client->used) {
            free_slot = free_slot != NULL ? free_slot : client;
            continue;
        }
        if (strncmp(client->key, key, sizeof(client->key) - 1) == 0) {
            return client;
        }
        if (client->tat_ns <= now_ns && refilled == NULL) {
            refilled = client;
        }
        if (oldest == NULL || client->last_seen_ns < oldest->last_seen_ns) {
            oldest = client;
        }
    }
    struct rate_client *reuse = free_slot != NULL  ? free_slot
                                : refilled != NULL ? refilled
                                                   : oldest;
    reuse->used = true;
    reuse->tat_ns = now_ns;
    snprintf(reuse->key, sizeof(reuse->key), "%s", key);
    return reuse;
}

bool rate_limiter_take(struct rate_limiter *limiter, const char *client, uint64_t now_ns,
                       unsigned *retry_after_s)
{
    pthread_mutex_lock(&limiter->lock);
    struct rate_client *slot = find_slot(limiter, client, now_ns);
    slot->last_seen_ns = now_ns;
    uint64_t tat = slot->tat_ns > now_ns ? slot->tat_ns : now_ns;
    bool allowed = tat - now_ns <= limiter->burst_ns;
    if (allowed) {
        slot->tat_ns = tat + limiter->interval_ns;
    } else {
        /* A token is back once the TAT is within the burst again. */
        uint64_t wait_ns = tat - now_ns - limiter->burst_ns;
        uint64_t seconds = (wait_ns + NS_PER_S - 1) / NS_PER_S;
        *retry_after_s = seconds > 0 ? (unsigned)seconds : 1;
    }
    pthread_mutex_unlock(&limiter->lock);
    return allowed;
}

size_t rate_limiter_clients(struct rate_limiter *limiter)
{
    size_t used = 0;
    pthread_mutex_lock(&limiter->lock);
    for (size_t i = 0; i < limiter->capacity; i++) {
        used += limiter->clients[i].used ? 1 : 0;
    }
    pthread_mutex_unlock(&limiter->lock);
    return used;
}
