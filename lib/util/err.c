/* err.c - see cc_err.h. */
#include "cc_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cc_err_set(cc_err *e, const char *fmt, ...)
{
    if (!e) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int cc_err_prefix(cc_err *e, const char *fmt, ...)
{
    if (!e) return -1;
    char pre[CC_ERR_MAX], old[CC_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s: %s", pre, old);
    return -1;
}

void cc_err_clear(cc_err *e)
{
    if (e) e->msg[0] = '\0';
}

void cc_freep(void *p)
{
    void **pp = p;
    free(*pp);
    *pp = NULL;
}
