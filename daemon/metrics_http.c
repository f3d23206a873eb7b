/* metrics_http.c - Prometheus endpoint on libmicrohttpd (see metrics_http.h). */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct cc_metrics_http {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    char *text;
    size_t len;
    uint64_t scrapes;
    int port;
};

void cc_metrics_http_config_default(cc_metrics_http_config *c)
{
    *c = (cc_metrics_http_config){.enabled = 0, .bind = "127.0.0.1", .port = 9103};
}

int cc_metrics_http_config_from_yaml(const cc_ynode *map, cc_metrics_http_config *c, cc_err *e)
{
    static const char *const known[] = {"enabled", "bind", "port", NULL};
    if (!map) return 0;
    if (cc_y_expect(map, CC_Y_MAP, "metrics", e) || cc_y_check_keys(map, known, e)) return -1;
    const char *bind = NULL;
    int64_t port = c->port;
    if (cc_y_bool(map, "enabled", 0, &c->enabled, e) || cc_y_str(map, "bind", 0, &bind, e) ||
        cc_y_i64(map, "port", 0, 0, 65535, &port, e))
        return -1;
    if (bind) {
        unsigned char buf[sizeof(struct in6_addr)];
        if (strlen(bind) >= sizeof c->bind ||
            (inet_pton(AF_INET, bind, buf) != 1 && inet_pton(AF_INET6, bind, buf) != 1))
            return cc_y_err(e, cc_y_get(map, "bind"),
                            "metrics.bind: expected an IPv4 or IPv6 address, found '%s'", bind);
        strcpy(c->bind, bind);
    }
    c->port = (int)port;
    return 0;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **con_cls)
{
    (void)version, (void)upload, (void)upload_len, (void)con_cls;
    cc_metrics_http *h = cls;
    struct MHD_Response *r;
    unsigned status = MHD_HTTP_OK;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static const char msg[] = "method not allowed\n";
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        r = MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
    } else if (strcmp(url, "/metrics") != 0) {
        static const char msg[] = "not found: try /metrics\n";
        status = MHD_HTTP_NOT_FOUND;
        r = MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
    } else {
        pthread_mutex_lock(&h->mu);
        r = MHD_create_response_from_buffer(h->len, h->text ? h->text : (void *)"",
                                            MHD_RESPMEM_MUST_COPY);
        h->scrapes++;
        pthread_mutex_unlock(&h->mu);
        if (r) MHD_add_response_header(r, "Content-Type", CC_METRICS_HTTP_CONTENT_TYPE);
    }
    if (!r) return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

cc_metrics_http *cc_metrics_http_start(const cc_metrics_http_config *c, cc_err *e)
{
    struct sockaddr_storage ss = {0};
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (c->port < 0 || c->port > 65535)
        return cc_err_set(e, "metrics.port: expected 0..65535, found %d", c->port), NULL;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, c->bind, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)c->port);
    } else if (inet_pton(AF_INET6, c->bind, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)c->port);
        flags |= MHD_USE_IPv6;
    } else {
        return cc_err_set(e, "metrics.bind: expected an IPv4 or IPv6 address, found '%s'", c->bind),
               NULL;
    }
    cc_metrics_http *h = calloc(1, sizeof *h);
    if (!h) return cc_err_set(e, "metrics: out of memory"), NULL;
    pthread_mutex_init(&h->mu, NULL);
    h->d = MHD_start_daemon(flags, (uint16_t)c->port, NULL, NULL, answer, h, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 16u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!h->d) {
        pthread_mutex_destroy(&h->mu);
        free(h);
        return cc_err_set(e, "metrics: cannot listen on %s:%d (address in use or not local?)",
                          c->bind, c->port),
               NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : c->port;
    return h;
}

int cc_metrics_http_publish(cc_metrics_http *h, const char *text, size_t len, cc_err *e)
{
    char *copy = malloc(len + 1);
    if (!copy) return cc_err_set(e, "metrics: out of memory for a %zu-byte snapshot", len);
    memcpy(copy, text, len);
    copy[len] = 0;
    pthread_mutex_lock(&h->mu);
    char *old = h->text;
    h->text = copy;
    h->len = len;
    pthread_mutex_unlock(&h->mu);
    free(old);
    return 0;
}

int cc_metrics_http_port(const cc_metrics_http *h)
{
    return h->port;
}

uint64_t cc_metrics_http_scrapes(cc_metrics_http *h)
{
    pthread_mutex_lock(&h->mu);
    uint64_t n = h->scrapes;
    pthread_mutex_unlock(&h->mu);
    return n;
}

void cc_metrics_http_stop(cc_metrics_http **ph)
{
    cc_metrics_http *h = ph ? *ph : NULL;
    if (!h) return;
    MHD_stop_daemon(h->d);
    pthread_mutex_destroy(&h->mu);
    free(h->text);
    free(h);
    *ph = NULL;
}
