/* seqtrack.c - see cc_seqtrack.h. A linear table: the number of publishers
 * feeding one daemon is small (tens), and the last-used entry is checked first
 * because records arrive in bursts per publisher. */
#include "cc_seqtrack.h"

#include <stdlib.h>

typedef struct {
    uint64_t id, last, used;
} entry;

struct cc_seqtrack {
    entry *e;
    size_t n, cap, hint;
    uint64_t clock;
    cc_seqtrack_stats st;
};

cc_seqtrack *cc_seqtrack_new(size_t capacity)
{
    cc_seqtrack *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->cap = capacity ? capacity : 1;
    if (!(t->e = calloc(t->cap, sizeof *t->e))) {
        free(t);
        return NULL;
    }
    return t;
}

void cc_seqtrack_free(cc_seqtrack **t)
{
    if (!t || !*t) return;
    free((*t)->e);
    free(*t);
    *t = NULL;
}

uint64_t cc_seqtrack_push(cc_seqtrack *t, uint64_t id, uint64_t seq)
{
    t->clock++;
    entry *x = NULL;
    if (t->hint < t->n && t->e[t->hint].id == id) x = &t->e[t->hint];
    for (size_t i = 0; !x && i < t->n; i++)
        if (t->e[i].id == id) {
            x = &t->e[i];
            t->hint = i;
        }
    if (!x) {
        size_t slot = t->n;
        if (t->n == t->cap) { /* evict the least recently used publisher */
            slot = 0;
            for (size_t i = 1; i < t->n; i++)
                if (t->e[i].used < t->e[slot].used) slot = i;
        } else {
            t->n++;
        }
        t->e[slot] = (entry){.id = id, .last = seq, .used = t->clock};
        t->hint = slot;
        t->st.publishers++;
        return 0;
    }
    x->used = t->clock;
    if (seq <= x->last) {
        t->st.reordered++;
        return 0;
    }
    uint64_t gap = seq - x->last - 1;
    x->last = seq;
    t->st.lost += gap;
    return gap;
}

void cc_seqtrack_stats_get(const cc_seqtrack *t, cc_seqtrack_stats *out)
{
    *out = t->st;
}
