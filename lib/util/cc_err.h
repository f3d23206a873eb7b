/* cc_err.h - error values that carry their context.
 *
 * Every fallible function in libcryoclean takes a `cc_err *` as its last
 * argument and returns -1 (or NULL) after filling it with one readable line
 * such as "conf/cryoclean.yaml:14:7: channels.9: unknown classifier 'cnn2'
 * (known: cuts, nn)". The caller may prefix more context with cc_err_prefix().
 * A NULL `cc_err *` is allowed and discards the message.
 */
#ifndef CC_ERR_H
#define CC_ERR_H

#include <stddef.h>

#define CC_ERR_MAX 512

typedef struct cc_err {
    char msg[CC_ERR_MAX];
} cc_err;

/* Formats the message into e (if non-NULL); always returns -1 so callers can
 * write `return cc_err_set(e, "...")`. */
int cc_err_set(cc_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to the message already in e; returns -1. */
int cc_err_prefix(cc_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears e to the empty string. */
void cc_err_clear(cc_err *e);

/* Frees *p and sets it to NULL; for __attribute__((cleanup)). */
void cc_freep(void *p);
#define CC_CLEANUP_FREE __attribute__((cleanup(cc_freep)))

#endif
