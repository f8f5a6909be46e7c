/* A region allocator: the parsed JSON of one call lives in one arena, freed at once when
 * the call returns, so no value needs its own `free` and nothing outlives the call. */
#ifndef TRIAL_MATCHING_ARENA_H
#define TRIAL_MATCHING_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
    struct arena_chunk *chunks;
};

/* `size` bytes aligned for any value; aborts (traps) when memory runs out. */
void *arena_alloc(struct arena *arena, size_t size);
void arena_free(struct arena *arena);

#endif
