/* test_seqtrack.c - lib/wire/cc_seqtrack.h: loss accounting per publisher.
 *
 * Exact counts for gaps, duplicates, reordering, restarts (new instance id),
 * interleaved publishers and least-recently-used eviction at capacity.
 */
#include <stdint.h>
#include <stdlib.h>

#include "cc_seqtrack.h"
#include "cc_test.h"

static cc_seqtrack_stats stats(const cc_seqtrack *t)
{
    cc_seqtrack_stats s;
    cc_seqtrack_stats_get(t, &s);
    return s;
}

#define assert_stats(t, l, r, p)                                                                   \
    do {                                                                                           \
        cc_seqtrack_stats s_ = stats(t);                                                           \
        ck_assert_uint_eq(s_.lost, l);                                                             \
        ck_assert_uint_eq(s_.reordered, r);                                                        \
        ck_assert_uint_eq(s_.publishers, p);                                                       \
    } while (0)

START_TEST(test_in_order)
{
    cc_seqtrack *t = cc_seqtrack_new(8);
    ck_assert_ptr_nonnull(t);
    assert_stats(t, 0, 0, 0);
    for (uint64_t s = 1000; s < 2000; s++) ck_assert_uint_eq(cc_seqtrack_push(t, 0xabc, s), 0);
    assert_stats(t, 0, 0, 1);
    cc_seqtrack_free(&t);
    ck_assert_ptr_null(t);
    cc_seqtrack_free(&t);
}
END_TEST

START_TEST(test_gaps)
{
    cc_seqtrack *t = cc_seqtrack_new(8);
    /* the first record of a publisher is never a loss, whatever its number */
    ck_assert_uint_eq(cc_seqtrack_push(t, 7, 500), 0);
    ck_assert_uint_eq(cc_seqtrack_push(t, 7, 501), 0);
    ck_assert_uint_eq(cc_seqtrack_push(t, 7, 504), 2);
    ck_assert_uint_eq(cc_seqtrack_push(t, 7, 505), 0);
    ck_assert_uint_eq(cc_seqtrack_push(t, 7, 509), 3);
    assert_stats(t, 5, 0, 1);
    ck_assert_uint_eq(cc_seqtrack_push(t, 7, 1000509), 999999);
    ck_assert_uint_eq(cc_seqtrack_push(t, 7, 1000510), 0);
    assert_stats(t, 1000004, 0, 1);
    /* a publisher starting at 0 */
    ck_assert_uint_eq(cc_seqtrack_push(t, 8, 0), 0);
    ck_assert_uint_eq(cc_seqtrack_push(t, 8, 2), 1);
    assert_stats(t, 1000005, 0, 2);
    cc_seqtrack_free(&t);
}
END_TEST

START_TEST(test_duplicates_and_reordering)
{
    cc_seqtrack *t = cc_seqtrack_new(8);
    for (uint64_t s = 1; s <= 3; s++) cc_seqtrack_push(t, 1, s);
    ck_assert_uint_eq(cc_seqtrack_push(t, 1, 3), 0); /* duplicate */
    ck_assert_uint_eq(cc_seqtrack_push(t, 1, 2), 0); /* old */
    ck_assert_uint_eq(cc_seqtrack_push(t, 1, 1), 0);
    assert_stats(t, 0, 3, 1);
    /* the last number is not moved back: 4 follows 3 without a loss */
    ck_assert_uint_eq(cc_seqtrack_push(t, 1, 4), 0);
    assert_stats(t, 0, 3, 1);
    /* a swapped pair: the jump counts the missing one, its late arrival is
     * counted as reordered (the documented rule) */
    ck_assert_uint_eq(cc_seqtrack_push(t, 1, 6), 1);
    ck_assert_uint_eq(cc_seqtrack_push(t, 1, 5), 0);
    ck_assert_uint_eq(cc_seqtrack_push(t, 1, 7), 0);
    assert_stats(t, 1, 4, 1);
    /* a burst of pure duplicates never counts as loss */
    for (int i = 0; i < 100; i++) ck_assert_uint_eq(cc_seqtrack_push(t, 1, 7), 0);
    assert_stats(t, 1, 104, 1);
    cc_seqtrack_free(&t);
}
END_TEST

START_TEST(test_restart_is_not_loss)
{
    cc_seqtrack *t = cc_seqtrack_new(8);
    for (uint64_t s = 1; s <= 10; s++) cc_seqtrack_push(t, 0x1111, s);
    /* the publisher restarts with a new instance id and seq back at 1 */
    ck_assert_uint_eq(cc_seqtrack_push(t, 0x2222, 1), 0);
    assert_stats(t, 0, 0, 2);
    ck_assert_uint_eq(cc_seqtrack_push(t, 0x2222, 2), 0);
    /* or anywhere else */
    ck_assert_uint_eq(cc_seqtrack_push(t, 0x3333, 987654321), 0);
    assert_stats(t, 0, 0, 3);
    /* the new instance is tracked on its own */
    ck_assert_uint_eq(cc_seqtrack_push(t, 0x2222, 5), 2);
    ck_assert_uint_eq(cc_seqtrack_push(t, 0x3333, 987654322), 0);
    assert_stats(t, 2, 0, 3);
    cc_seqtrack_free(&t);
}
END_TEST

START_TEST(test_interleaved_publishers)
{
    enum { P = 10 };
    cc_seqtrack *t = cc_seqtrack_new(16);
    uint64_t next[P], id[P], expect_lost = 0;
    for (int p = 0; p < P; p++) {
        id[p] = 0x9e3779b97f4a7c15ull * (uint64_t)(p + 1);
        next[p] = (uint64_t)p * 1000;
    }
    uint64_t rng = 12345;
    for (int i = 0; i < 100000; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        int p = (int)(rng % P);
        uint64_t skip = (rng >> 20) % 50 == 0 ? 1 + (rng >> 32) % 5 : 0;
        if (next[p] == (uint64_t)p * 1000) skip = 0; /* the first is never a loss */
        next[p] += skip;
        uint64_t got = cc_seqtrack_push(t, id[p], next[p]++);
        ck_assert_uint_eq(got, skip);
        expect_lost += skip;
    }
    ck_assert_uint_gt(expect_lost, 1000);
    assert_stats(t, expect_lost, 0, P);
    cc_seqtrack_free(&t);
}
END_TEST

START_TEST(test_lru_eviction)
{
    cc_seqtrack *t = cc_seqtrack_new(3);
    cc_seqtrack_push(t, 'A', 1);
    cc_seqtrack_push(t, 'B', 1);
    cc_seqtrack_push(t, 'C', 1);
    cc_seqtrack_push(t, 'A', 2); /* A is now the most recent; B the least */
    cc_seqtrack_push(t, 'C', 2); /* order of use: B, A, C */
    assert_stats(t, 0, 0, 3);
    /* a fourth publisher evicts B */
    ck_assert_uint_eq(cc_seqtrack_push(t, 'D', 1), 0);
    assert_stats(t, 0, 0, 4);
    /* A and C are still tracked: their gaps count */
    ck_assert_uint_eq(cc_seqtrack_push(t, 'A', 4), 1);
    ck_assert_uint_eq(cc_seqtrack_push(t, 'C', 5), 2);
    assert_stats(t, 3, 0, 4);
    /* B was forgotten: it comes back as a new publisher, no loss, evicting D
     * (order of use now: D, A, C) */
    ck_assert_uint_eq(cc_seqtrack_push(t, 'B', 10), 0);
    assert_stats(t, 3, 0, 5);
    ck_assert_uint_eq(cc_seqtrack_push(t, 'B', 12), 1);
    ck_assert_uint_eq(cc_seqtrack_push(t, 'A', 5), 0);
    ck_assert_uint_eq(cc_seqtrack_push(t, 'C', 6), 0);
    assert_stats(t, 4, 0, 5);
    ck_assert_uint_eq(cc_seqtrack_push(t, 'D', 3), 0); /* D forgotten too */
    assert_stats(t, 4, 0, 6);
    cc_seqtrack_free(&t);

    /* capacity 0 is treated as 1: every switch is a new publisher */
    t = cc_seqtrack_new(0);
    ck_assert_ptr_nonnull(t);
    cc_seqtrack_push(t, 1, 1);
    ck_assert_uint_eq(cc_seqtrack_push(t, 1, 3), 1);
    cc_seqtrack_push(t, 2, 1);
    ck_assert_uint_eq(cc_seqtrack_push(t, 1, 9), 0);
    assert_stats(t, 1, 0, 3);
    cc_seqtrack_free(&t);

    /* many publishers round-robin through a small table: each one is
     * evicted before it comes back, so nothing is ever counted as lost */
    t = cc_seqtrack_new(4);
    for (uint64_t round = 0; round < 50; round++)
        for (uint64_t p = 0; p < 5; p++) ck_assert_uint_eq(cc_seqtrack_push(t, p, round * 2), 0);
    assert_stats(t, 0, 0, 250);
    cc_seqtrack_free(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("seqtrack");
    TCase *t = tcase_create("seqtrack");
    tcase_add_test(t, test_in_order);
    tcase_add_test(t, test_gaps);
    tcase_add_test(t, test_duplicates_and_reordering);
    tcase_add_test(t, test_restart_is_not_loss);
    tcase_add_test(t, test_interleaved_publishers);
    tcase_add_test(t, test_lru_eviction);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
