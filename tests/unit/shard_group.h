/* What the sharded-fit tests share: K "processes" emulated by K threads of
 * one group, and the reduce callback (mdnmf_shard.reduce) that sums or
 * maximises their buffers across the group, in rank order as
 * MPI_Allreduce does, so that every thread gets the same bits. */
#ifndef MDNMF_SHARD_GROUP_H
#define MDNMF_SHARD_GROUP_H

#include "mdnmf.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_MAX_RANKS 4

typedef struct group {
    int ranks;
    pthread_barrier_t barrier;
    void *slots[GROUP_MAX_RANKS]; /* each rank's buffer, slot_bytes each */
    size_t slot_bytes;
    int calls[GROUP_MAX_RANKS];   /* reduce calls per rank: all must make as many */
} group;

/* The reduce callback's user data: the group and this thread's rank. */
typedef struct rank_user {
    group *g;
    int rank;
} rank_user;

/* A group of `ranks` (<= GROUP_MAX_RANKS) whose reductions hold at most
 * `slot_bytes` per rank (a larger one fails, as a failing MPI would). */
static inline void group_open(group *g, int ranks, size_t slot_bytes)
{
    memset(g, 0, sizeof *g);
    g->ranks = ranks, g->slot_bytes = slot_bytes;
    for (int r = 0; r < ranks; r++)
        g->slots[r] = malloc(slot_bytes);
    pthread_barrier_init(&g->barrier, NULL, (unsigned)ranks);
}

static inline void group_close(group *g)
{
    pthread_barrier_destroy(&g->barrier);
    for (int r = 0; r < g->ranks; r++)
        free(g->slots[r]);
}

/* Run fn(jobs + r * job_size) on one thread per rank (each job set up by
 * the caller) and wait for all of them. */
static inline void group_run(group *g, void *(*fn)(void *), void *jobs, size_t job_size)
{
    pthread_t threads[GROUP_MAX_RANKS];
    for (int r = 0; r < g->ranks; r++)
        pthread_create(&threads[r], NULL, fn, (char *)jobs + (size_t)r * job_size);
    for (int r = 0; r < g->ranks; r++)
        pthread_join(threads[r], NULL);
}

/* Every rank made as many reduce calls (else one would have hung in MPI). */
static inline int group_calls_agree(const group *g)
{
    for (int r = 1; r < g->ranks; r++)
        if (g->calls[r] != g->calls[0])
            return 0;
    return 1;
}

static inline int reduce_in_group(void *user, void *buffer, int64_t count, mdnmf_reduce_op op)
{
    rank_user *u = user;
    group *g = u->g;
    size_t size = op == MDNMF_REDUCE_SUM_F64 ? sizeof(double) : sizeof(float);
    if ((size_t)count * size > g->slot_bytes)
        return -1;
    memcpy(g->slots[u->rank], buffer, (size_t)count * size);
    g->calls[u->rank]++;
    pthread_barrier_wait(&g->barrier);
    for (int64_t i = 0; i < count; i++) {
        if (op == MDNMF_REDUCE_SUM_F64) {
            double sum = ((double *)g->slots[0])[i];
            for (int r = 1; r < g->ranks; r++)
                sum += ((double *)g->slots[r])[i];
            ((double *)buffer)[i] = sum;
        } else {
            float value = ((float *)g->slots[0])[i];
            for (int r = 1; r < g->ranks; r++) {
                float other = ((float *)g->slots[r])[i];
                value = op == MDNMF_REDUCE_SUM_F32 ? value + other
                                                   : (other > value ? other : value);
            }
            ((float *)buffer)[i] = value;
        }
    }
    pthread_barrier_wait(&g->barrier);
    return 0;
}

#endif
