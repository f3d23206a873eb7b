/* metrics_http.h - the optional Prometheus endpoint (libmicrohttpd).
 *
 * Off by default. The daemon's main thread renders the exposition text
 * (cc_metrics_prometheus) whenever it likes and hands it over with
 * cc_metrics_http_publish(); the server's own thread (libmicrohttpd's
 * internal polling thread) answers GET /metrics with a copy of the latest
 * snapshot, taken under a mutex, so a scrape never touches the monitor.
 * Any other path is 404, any other method 405. Binds 127.0.0.1:9103 unless
 * configured otherwise (port 0 picks a free port, see cc_metrics_http_port).
 */
#ifndef CC_METRICS_HTTP_H
#define CC_METRICS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "cc_err.h"
#include "cc_yaml.h"

#define CC_METRICS_HTTP_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct cc_metrics_http_config {
    int enabled;   /* 0 */
    char bind[64]; /* IPv4 or IPv6 literal, "127.0.0.1" */
    int port;      /* 9103 */
} cc_metrics_http_config;

typedef struct cc_metrics_http cc_metrics_http;

/* Defaults: disabled, 127.0.0.1, port 9103. */
void cc_metrics_http_config_default(cc_metrics_http_config *c);

/* Reads a `metrics:` mapping (enabled, bind, port) over c. */
int cc_metrics_http_config_from_yaml(const cc_ynode *map, cc_metrics_http_config *c, cc_err *e);

/* Binds and starts serving (an empty body until the first publish). NULL
 * with e naming the address on failure. */
cc_metrics_http *cc_metrics_http_start(const cc_metrics_http_config *c, cc_err *e);

/* Replaces the served snapshot with a copy of text[len]. -1 with e on OOM. */
int cc_metrics_http_publish(cc_metrics_http *h, const char *text, size_t len, cc_err *e);

/* The bound port, and the number of scrapes answered so far. */
int cc_metrics_http_port(const cc_metrics_http *h);
uint64_t cc_metrics_http_scrapes(cc_metrics_http *h);

/* Stops the server, frees *h and sets it to NULL. */
void cc_metrics_http_stop(cc_metrics_http **h);

#endif
