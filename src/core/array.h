/*
 * array.h - ARRAY_SIZE, the element count of an array.
 *
 * It refuses to compile for a pointer, where sizeof would silently give
 * the size of the pointer instead.
 */
#ifndef TINYSERVER_ARRAY_H
#define TINYSERVER_ARRAY_H

#define ARRAY_SIZE(a)                                                                              \
    (sizeof(a) / sizeof((a)[0]) +                                                                  \
     0 * sizeof(struct {                                                                           \
         _Static_assert(!__builtin_types_compatible_p(__typeof__(a), __typeof__(&(a)[0])),         \
                        "ARRAY_SIZE needs an array, not a pointer");                               \
         char unused;                                                                              \
     }))

#endif
