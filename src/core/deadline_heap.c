/*
 * deadline_heap.c - the min-heap of deadline_heap.h: a complete binary tree
 * in an array, each node no later than its children.
 */
#include "deadline_heap.h"

#include <stdlib.h>

bool deadline_heap_init(struct deadline_heap *heap, size_t capacity)
{
    heap->count = 0;
    heap->capacity = capacity;
    heap->nodes = calloc(capacity == 0 ? 1 : capacity, sizeof(*heap->nodes));
    return heap->nodes != NULL;
}

void deadline_heap_free(struct deadline_heap *heap)
{
    for (size_t i = 0; i < heap->count; i++) {
        heap->nodes[i]->index = DEADLINE_NONE;
    }
    free(heap->nodes);
    heap->nodes = NULL;
    heap->count = heap->capacity = 0;
}

void deadline_node_init(struct deadline_node *node)
{
    node->when = -1;
    node->index = DEADLINE_NONE;
}

static void place(struct deadline_heap *heap, size_t index, struct deadline_node *node)
{
    heap->nodes[index] = node;
    node->index = index;
}

/* Moves the node at index up while it is earlier than its parent. */
static void sift_up(struct deadline_heap *heap, size_t index)
{
    struct deadline_node *node = heap->nodes[index];
    while (index > 0) {
        size_t parent = (index - 1) / 2;
        if (heap->nodes[parent]->when <= node->when) {
            break;
        }
        place(heap, index, heap->nodes[parent]);
        index = parent;
    }
    place(heap, index, node);
}

/* Moves the node at index down while a child is earlier. */
static void sift_down(struct deadline_heap *heap, size_t index)
{
    struct deadline_node *node = heap->nodes[index];
    for (;;) {
        size_t child = 2 * index + 1;
        if (child >= heap->count) {
            break;
        }
        if (child + 1 < heap->count && heap->nodes[child + 1]->when < heap->nodes[child]->when) {
            child++;
        }
        if (node->when <= heap->nodes[child]->when) {
            break;
        }
        place(heap, index, heap->nodes[child]);
        index = child;
    }
    place(heap, index, node);
}

static void remove_at(struct deadline_heap *heap, size_t index)
{
    struct deadline_node *removed = heap->nodes[index];
    struct deadline_node *last = heap->nodes[--heap->count];
    removed->index = DEADLINE_NONE;
    if (index == heap->count) {
        return; /* it was the last one */
    }
    place(heap, index, last);
    sift_up(heap, index);
    sift_down(heap, last->index);
}

bool deadline_heap_set(struct deadline_heap *heap, struct deadline_node *node, int64_t when)
{
    if (node->index != DEADLINE_NONE) {
        if (when < 0) {
            remove_at(heap, node->index);
        } else {
            int64_t before = node->when;
            node->when = when;
            if (when < before) {
                sift_up(heap, node->index);
            } else {
                sift_down(heap, node->index);
            }
        }
        node->when = when;
        return true;
    }
    node->when = when;
    if (when < 0) {
        return true;
    }
    if (heap->count == heap->capacity) {
        return false;
    }
    place(heap, heap->count++, node);
    sift_up(heap, node->index);
    return true;
}

struct deadline_node *deadline_heap_first(const struct deadline_heap *heap)
{
    return heap->count == 0 ? NULL : heap->nodes[0];
}
