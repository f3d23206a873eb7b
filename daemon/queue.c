/* queue.c - see queue.h. A ring buffer under one mutex with two condition
 * variables; batches amortise the locking. */
#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct ccd_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    void **ring;
    size_t cap, head, n;
    int closed;
};

ccd_queue *ccd_queue_new(size_t capacity)
{
    ccd_queue *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    if (!(q->ring = calloc(capacity, sizeof *q->ring))) {
        free(q);
        return NULL;
    }
    q->cap = capacity;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_empty, &a);
    pthread_cond_init(&q->not_full, &a);
    pthread_condattr_destroy(&a);
    return q;
}

void ccd_queue_free(ccd_queue **qp)
{
    if (!qp || !*qp) return;
    ccd_queue *q = *qp;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->ring);
    free(q);
    *qp = NULL;
}

static struct timespec deadline(int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

int ccd_queue_push(ccd_queue *q, void *item)
{
    pthread_mutex_lock(&q->mu);
    while (q->n == q->cap && !q->closed) pthread_cond_wait(&q->not_full, &q->mu);
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        return -1;
    }
    q->ring[(q->head + q->n) % q->cap] = item;
    q->n++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

static size_t take(ccd_queue *q, void **out, size_t got, size_t max)
{
    while (q->n > 0 && got < max) {
        out[got++] = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->n--;
    }
    return got;
}

size_t ccd_queue_pop(ccd_queue *q, void **out, size_t max, int first_wait_ms, int fill_wait_ms)
{
    size_t got = 0;
    pthread_mutex_lock(&q->mu);
    struct timespec t = deadline(first_wait_ms < 0 ? 0 : first_wait_ms);
    while (q->n == 0 && !q->closed) {
        if (first_wait_ms < 0)
            pthread_cond_wait(&q->not_empty, &q->mu);
        else if (pthread_cond_timedwait(&q->not_empty, &q->mu, &t) == ETIMEDOUT)
            break;
    }
    if (q->n > 0) {
        struct timespec f = deadline(fill_wait_ms);
        for (;;) {
            got = take(q, out, got, max);
            pthread_cond_broadcast(&q->not_full);
            if (got == max || q->closed || fill_wait_ms <= 0) break;
            if (pthread_cond_timedwait(&q->not_empty, &q->mu, &f) == ETIMEDOUT) {
                got = take(q, out, got, max);
                pthread_cond_broadcast(&q->not_full);
                break;
            }
        }
    }
    pthread_mutex_unlock(&q->mu);
    return got;
}

void ccd_queue_close(ccd_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

int ccd_queue_finished(ccd_queue *q)
{
    pthread_mutex_lock(&q->mu);
    int f = q->closed && q->n == 0;
    pthread_mutex_unlock(&q->mu);
    return f;
}

size_t ccd_queue_depth(ccd_queue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->n;
    pthread_mutex_unlock(&q->mu);
    return n;
}
