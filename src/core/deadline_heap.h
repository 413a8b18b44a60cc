/*
 * deadline_heap.h - a binary min-heap of deadlines, for an event loop that
 * must wake at the earliest of many.
 *
 * Nodes are embedded in the caller's objects (find the object back with
 * offsetof); the heap only holds pointers to them, in an array allocated
 * once for the most nodes it will ever hold, so adding a node never fails
 * and never allocates. Setting, moving or removing a node is O(log n).
 * Not thread-safe: one loop owns one heap.
 */
#ifndef TINYSERVER_DEADLINE_HEAP_H
#define TINYSERVER_DEADLINE_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct deadline_node {
    int64_t when; /* milliseconds on the caller's clock */
    size_t index; /* position in the heap; DEADLINE_NONE when not in it */
};

#define DEADLINE_NONE SIZE_MAX

struct deadline_heap {
    struct deadline_node **nodes;
    size_t count;
    size_t capacity;
};

/* Room for `capacity` nodes (at least 1). Returns false when out of memory. */
bool deadline_heap_init(struct deadline_heap *heap, size_t capacity);
void deadline_heap_free(struct deadline_heap *heap);

/* A node not in any heap yet. */
void deadline_node_init(struct deadline_node *node);

/* Puts node in the heap at `when`, or moves it there; a negative `when`
 * takes it out. Adding a node to a full heap is a caller bug: it is left
 * out and false returned. */
bool deadline_heap_set(struct deadline_heap *heap, struct deadline_node *node, int64_t when);

/* The earliest node, or NULL when the heap is empty. */
struct deadline_node *deadline_heap_first(const struct deadline_heap *heap);

#endif
