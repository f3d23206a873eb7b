/* cc_seqtrack.h - input loss accounting from per-publisher sequence numbers.
 *
 * Every publisher stamps its records with a random 64-bit instance id chosen
 * at start and a sequence number that grows by one per record. The tracker
 * remembers the last sequence per instance: a jump forward by k counts k-1
 * records lost upstream (ZeroMQ HWM drops, a slow joiner, a broken link); a
 * number at or below the last one is counted as a duplicate/reordered record;
 * a never-seen instance id is a publisher (re)start, not a loss. Publishers
 * not heard from are evicted oldest-first once `capacity` is reached.
 * Not thread-safe: one tracker per ingest thread.
 */
#ifndef CC_SEQTRACK_H
#define CC_SEQTRACK_H

#include <stddef.h>
#include <stdint.h>

typedef struct cc_seqtrack cc_seqtrack;

typedef struct cc_seqtrack_stats {
    uint64_t lost;       /* records missing from sequence gaps */
    uint64_t reordered;  /* duplicate or out-of-order sequence numbers */
    uint64_t publishers; /* distinct instance ids seen (restarts included) */
} cc_seqtrack_stats;

/* Creates a tracker for up to capacity publishers; NULL on allocation failure. */
cc_seqtrack *cc_seqtrack_new(size_t capacity);

/* Frees *t and sets it to NULL. */
void cc_seqtrack_free(cc_seqtrack **t);

/* Accounts for one record; returns the number of records lost just before it
 * (0 for an in-order record or a new publisher). */
uint64_t cc_seqtrack_push(cc_seqtrack *t, uint64_t instance_id, uint64_t seq);

/* Copies the running totals. */
void cc_seqtrack_stats_get(const cc_seqtrack *t, cc_seqtrack_stats *out);

#endif
