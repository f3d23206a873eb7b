/* queue.h - a bounded blocking FIFO of pointers between daemon threads.
 *
 * Producers block while the queue is full (back-pressure, never a silent
 * drop); consumers take up to `max` items at once, waiting up to a deadline
 * for the batch to fill. Closing wakes everybody: producers fail, consumers
 * drain what is left and then see 0.
 */
#ifndef CCD_QUEUE_H
#define CCD_QUEUE_H

#include <stddef.h>

typedef struct ccd_queue ccd_queue;

/* Creates a queue holding at most capacity items; NULL on allocation failure. */
ccd_queue *ccd_queue_new(size_t capacity);

/* Frees the queue (items still in it are not freed); sets *q to NULL. */
void ccd_queue_free(ccd_queue **q);

/* Appends item, blocking while full. Returns 0, or -1 if the queue is closed. */
int ccd_queue_push(ccd_queue *q, void *item);

/* Takes up to max items into out. Waits up to first_wait_ms for the first item
 * (-1: forever) and then up to fill_wait_ms more for the batch to fill.
 * Returns the number taken (0 on timeout, or when closed and empty). */
size_t ccd_queue_pop(ccd_queue *q, void **out, size_t max, int first_wait_ms, int fill_wait_ms);

/* Marks the queue closed and wakes all waiters. */
void ccd_queue_close(ccd_queue *q);

/* 1 when closed and empty. */
int ccd_queue_finished(ccd_queue *q);

/* Current number of items (a snapshot). */
size_t ccd_queue_depth(ccd_queue *q);

#endif
