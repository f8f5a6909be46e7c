/* Region allocator; see arena.h. */
#include "arena.h"

#include <stdalign.h>
#include <stdlib.h>

#include "text.h"

/* Chunks of this size hold small values; a larger request gets a chunk of its own. */
#define ARENA_CHUNK_SIZE 65536

struct arena_chunk {
    struct arena_chunk *next;
    size_t used;
    size_t size;
    alignas(max_align_t) unsigned char bytes[];
};

void *arena_alloc(struct arena *arena, size_t size) {
    size_t aligned = (size + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    struct arena_chunk *chunk = arena->chunks;
    if (chunk == NULL || chunk->size - chunk->used < aligned) {
        size_t capacity = aligned > ARENA_CHUNK_SIZE ? aligned : ARENA_CHUNK_SIZE;
        chunk = checked_malloc(sizeof *chunk + capacity);
        chunk->used = 0;
        chunk->size = capacity;
        if (arena->chunks != NULL && aligned > ARENA_CHUNK_SIZE) {
            /* Keep the current small-value chunk in front: it still has room. */
            chunk->next = arena->chunks->next;
            arena->chunks->next = chunk;
        } else {
            chunk->next = arena->chunks;
            arena->chunks = chunk;
        }
    }
    void *ptr = chunk->bytes + chunk->used;
    chunk->used += aligned;
    return ptr;
}

void arena_free(struct arena *arena) {
    struct arena_chunk *chunk = arena->chunks;
    while (chunk != NULL) {
        struct arena_chunk *next = chunk->next;
        free(chunk);
        chunk = next;
    }
    arena->chunks = NULL;
}
