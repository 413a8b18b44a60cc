/* Unit tests for deadline_heap.h: the earliest deadline is always first,
 * whatever order nodes are set, moved and removed in. */
#include "check.h"
#include "deadline_heap.h"

#include <stdlib.h>

#define NODES 500

/* The earliest `when` among nodes in the heap, by a plain scan. */
static int64_t earliest(const struct deadline_node *nodes, size_t count)
{
    int64_t best = -1;
    for (size_t i = 0; i < count; i++) {
        if (nodes[i].index != DEADLINE_NONE && (best < 0 || nodes[i].when < best)) {
            best = nodes[i].when;
        }
    }
    return best;
}

int main(void)
{
    struct deadline_heap heap;
    CHECK(deadline_heap_init(&heap, NODES));
    CHECK(deadline_heap_first(&heap) == NULL);

    struct deadline_node nodes[NODES];
    for (size_t i = 0; i < NODES; i++) {
        deadline_node_init(&nodes[i]);
    }
    /* A negative deadline on a node not in the heap is no deadline. */
    CHECK(deadline_heap_set(&heap, &nodes[0], -1));
    CHECK(heap.count == 0 && nodes[0].index == DEADLINE_NONE);

    srand(14);
    unsigned mismatches = 0;
    for (unsigned round = 0; round < 20000; round++) {
        struct deadline_node *node = &nodes[(size_t)rand() % NODES];
        int64_t when = rand() % 4 == 0 ? -1 : rand() % 100000;
        CHECK(deadline_heap_set(&heap, node, when));
        struct deadline_node *first = deadline_heap_first(&heap);
        int64_t expected = earliest(nodes, NODES);
        if ((first == NULL ? -1 : first->when) != expected) {
            mismatches++;
        }
    }
    CHECK_MSG(mismatches == 0, "%u rounds where the first node was not the earliest", mismatches);
    /* Every node's index says where it is. */
    for (size_t i = 0; i < heap.count; i++) {
        CHECK(heap.nodes[i]->index == i);
    }
    /* Draining by removing the first gives the deadlines in order. */
    int64_t last = -1;
    bool ordered = true;
    for (struct deadline_node *n = deadline_heap_first(&heap); n != NULL;
         n = deadline_heap_first(&heap)) {
        ordered = ordered && n->when >= last;
        last = n->when;
        CHECK(deadline_heap_set(&heap, n, -1));
        CHECK(n->index == DEADLINE_NONE);
    }
    CHECK(ordered);
    CHECK(heap.count == 0);

    /* A full heap refuses another node and stays intact. */
    struct deadline_heap small;
    CHECK(deadline_heap_init(&small, 2));
    CHECK(deadline_heap_set(&small, &nodes[0], 5));
    CHECK(deadline_heap_set(&small, &nodes[1], 3));
    CHECK(!deadline_heap_set(&small, &nodes[2], 1));
    CHECK(nodes[2].index == DEADLINE_NONE);
    CHECK(deadline_heap_first(&small) == &nodes[1]);
    /* Moving a node in a full heap is fine. */
    CHECK(deadline_heap_set(&small, &nodes[0], 1));
    CHECK(deadline_heap_first(&small) == &nodes[0]);
    deadline_heap_free(&small);
    CHECK(nodes[0].index == DEADLINE_NONE && nodes[1].index == DEADLINE_NONE);

    deadline_heap_free(&heap);
    return check_finish("deadline_heap");
}
