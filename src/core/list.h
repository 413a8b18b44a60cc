/*
 * list.h - an intrusive doubly linked list: the owner embeds a struct
 * list_link in each element, so adding and removing allocate nothing and
 * take constant time. Locking is the caller's.
 */
#ifndef TINYSERVER_LIST_H
#define TINYSERVER_LIST_H

#include <stddef.h>

struct list_link {
    struct list_link *prev;
    struct list_link *next;
};

/* The element of type `type` whose member `member` is the link `link`. */
#define LIST_ELEMENT(link, type, member) ((type *)(void *)((char *)(link)-offsetof(type, member)))

/* Puts `link` at the front of the list whose first link is *head. */
static inline void list_push(struct list_link **head, struct list_link *link)
{
    link->prev = NULL;
    link->next = *head;
    if (*head != NULL) {
        (*head)->prev = link;
    }
    *head = link;
}

/* Takes `link`, which is on the list, off it. */
static inline void list_unlink(struct list_link **head, struct list_link *link)
{
    if (link->prev != NULL) {
        link->prev->next = link->next;
    } else {
        *head = link->next;
    }
    if (link->next != NULL) {
        link->next->prev = link->prev;
    }
    link->prev = NULL;
    link->next = NULL;
}

#endif
