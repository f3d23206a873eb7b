/* config.c - strict parsing of the daemon configuration; see cc_config.h.
 *
 * Each section has its own small parser that checks its keys first (so a
 * typo is reported as "unknown key" with the known keys listed) and then
 * reads typed values through the cc_y_* getters, which carry positions.
 */
#include "cc_config.h"

#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

static int copy_str(char *dst, size_t len, const cc_ynode *at, const char *what, const char *s,
                    cc_err *e)
{
    if (strlen(s) >= len)
        return cc_y_err(e, at, "%s: too long (%zu characters, at most %zu)", what, strlen(s),
                        len - 1);
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

int cc_config_check_endpoint(const cc_ynode *n, const char *ep, cc_err *e)
{
    static const char *const schemes[] = {"tcp://", "ipc://", "inproc://", NULL};
    for (int i = 0; schemes[i]; i++) {
        size_t l = strlen(schemes[i]);
        if (strncmp(ep, schemes[i], l) == 0 && ep[l]) {
            const char *port = strrchr(ep + l, ':');
            if (i == 0 && (!port || !port[1])) /* "tcp://host:" has no port */
                return cc_y_err(e, n, "endpoint '%s': expected tcp://HOST:PORT", ep);
            return 0;
        }
    }
    return cc_y_err(e, n, "endpoint '%s': expected tcp://HOST:PORT, ipc://PATH or inproc://NAME",
                    ep);
}

static int parse_input(const cc_ynode *n, cc_conf_input *in, cc_err *e)
{
    static const char *const keys[] = {"endpoint", "socket", "mode", "subscribe", "hwm", NULL};
    if (cc_y_expect(n, CC_Y_MAP, "inputs item", e) || cc_y_check_keys(n, keys, e)) return -1;
    const char *ep = NULL, *sock = "sub", *mode = "connect";
    int64_t hwm = 100000;
    if (cc_y_str(n, "endpoint", 1, &ep, e) || cc_y_str(n, "socket", 0, &sock, e) ||
        cc_y_str(n, "mode", 0, &mode, e) || cc_y_i64(n, "hwm", 0, 0, 100000000, &hwm, e))
        return -1;
    const cc_ynode *epn = cc_y_get(n, "endpoint");
    if (cc_config_check_endpoint(epn, ep, e) ||
        copy_str(in->endpoint, sizeof in->endpoint, epn, "endpoint", ep, e))
        return -1;
    if (!strcmp(sock, "sub"))
        in->kind = CC_SOCK_SUB;
    else if (!strcmp(sock, "pull"))
        in->kind = CC_SOCK_PULL;
    else
        return cc_y_err(e, cc_y_get(n, "socket"), "socket: expected 'sub' or 'pull', found '%s'",
                        sock);
    if (!strcmp(mode, "bind") || !strcmp(mode, "connect"))
        in->bind = !strcmp(mode, "bind");
    else
        return cc_y_err(e, cc_y_get(n, "mode"), "mode: expected 'bind' or 'connect', found '%s'",
                        mode);
    in->hwm = (int)hwm;
    const cc_ynode *sub = cc_y_get(n, "subscribe");
    if (sub && in->kind != CC_SOCK_SUB)
        return cc_y_err(e, sub, "subscribe: only a 'sub' socket subscribes to topics");
    if (sub && cc_y_expect(sub, CC_Y_SEQ, "subscribe", e)) return -1;
    size_t ns = sub ? sub->n : (in->kind == CC_SOCK_SUB);
    in->subscribe = calloc(ns ? ns : 1, sizeof *in->subscribe);
    if (!in->subscribe) return cc_err_set(e, "out of memory");
    for (size_t i = 0; i < ns; i++) {
        const char *t = "rec/";
        if (sub) {
            if (cc_y_expect(sub->kids[i], CC_Y_SCALAR, "subscribe item", e)) return -1;
            t = sub->kids[i]->str;
        }
        if (!(in->subscribe[i] = strdup(t))) return cc_err_set(e, "out of memory");
        in->nsubscribe++;
    }
    return 0;
}

static int parse_output(const cc_ynode *outs, const char *name, cc_conf_output *o, cc_err *e)
{
    static const char *const keys[] = {"endpoint", "mode", NULL};
    const cc_ynode *n = cc_y_get(outs, name);
    o->bind = 1;
    if (!n) return 0;
    if (n->type == CC_Y_SCALAR && !strcmp(n->str, "off")) return 0;
    if (cc_y_expect(n, CC_Y_MAP, name, e) || cc_y_check_keys(n, keys, e)) return -1;
    const char *ep = NULL, *mode = "bind";
    if (cc_y_str(n, "endpoint", 1, &ep, e) || cc_y_str(n, "mode", 0, &mode, e)) return -1;
    const cc_ynode *epn = cc_y_get(n, "endpoint");
    if (cc_config_check_endpoint(epn, ep, e) ||
        copy_str(o->endpoint, sizeof o->endpoint, epn, "endpoint", ep, e))
        return -1;
    if (strcmp(mode, "bind") && strcmp(mode, "connect"))
        return cc_y_err(e, cc_y_get(n, "mode"), "mode: expected 'bind' or 'connect', found '%s'",
                        mode);
    o->bind = !strcmp(mode, "bind");
    return 0;
}

static int find_classifier(const cc_config *c, const cc_ynode *at, const char *name, size_t *out,
                           cc_err *e)
{
    for (size_t i = 0; i < c->nclassifiers; i++)
        if (!strcmp(c->classifiers[i].name, name)) return (*out = i), 0;
    char list[256] = "";
    size_t off = 0;
    for (size_t i = 0; i < c->nclassifiers && off < sizeof list; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "",
                                c->classifiers[i].name);
    return cc_y_err(e, at, "classifier: unknown classifier '%s' (known: %s)", name,
                    off ? list : "none");
}

static int parse_channel_key(const cc_ynode *n, uint32_t *first, uint32_t *last, cc_err *e)
{
    const char *k = n->key;
    char *end;
    unsigned long long a = strtoull(k, &end, 10), b = a;
    if (end != k && *end == '-') {
        const char *p = end + 1;
        b = strtoull(p, &end, 10);
        if (end == p) end = (char *)k;
    }
    if (end == k || *end || a > UINT32_MAX || b > UINT32_MAX || b < a || k[0] == '-')
        return cc_err_set(e,
                          "%s:%d:%d: channels: expected 'default', a channel number or a range "
                          "FIRST-LAST, found '%s'",
                          n->file, n->key_line, n->key_col, k);
    *first = (uint32_t)a;
    *last = (uint32_t)b;
    return 0;
}

static int parse_channel_rule(cc_config *c, const cc_ynode *n, cc_conf_channel *r, cc_err *e)
{
    static const char *const keys[] = {"classifier", "cutoff", NULL};
    if (cc_y_expect(n, CC_Y_MAP, n->key, e) || cc_y_check_keys(n, keys, e)) return -1;
    const char *cl = NULL;
    double cut = NAN;
    if (cc_y_str(n, "classifier", 1, &cl, e) || cc_y_f64(n, "cutoff", 0, 0.0, 1.0, &cut, e))
        return -1;
    r->cutoff = (float)cut;
    return find_classifier(c, cc_y_get(n, "classifier"), cl, &r->classifier, e);
}

static int parse_classifiers(cc_config *c, const cc_ynode *n, cc_err *e)
{
    static const char *const keys[] = {"plugin", "config", NULL};
    if (cc_y_expect(n, CC_Y_MAP, "classifiers", e)) return -1;
    if (n->n == 0) return cc_y_err(e, n, "classifiers: at least one classifier is needed");
    c->classifiers = calloc(n->n, sizeof *c->classifiers);
    if (!c->classifiers) return cc_err_set(e, "out of memory");
    for (size_t i = 0; i < n->n; i++) {
        const cc_ynode *k = n->kids[i];
        cc_conf_classifier *cl = &c->classifiers[i];
        const char *plugin = NULL;
        if (cc_y_expect(k, CC_Y_MAP, k->key, e) || cc_y_check_keys(k, keys, e) ||
            cc_y_str(k, "plugin", 1, &plugin, e) ||
            copy_str(cl->name, 16, k, "classifier name (reported in decisions)", k->key, e) ||
            copy_str(cl->plugin, sizeof cl->plugin, cc_y_get(k, "plugin"), "plugin", plugin, e))
            return -1;
        cl->config = cc_y_get(k, "config");
        c->nclassifiers++;
    }
    return 0;
}

static int parse_channels(cc_config *c, const cc_ynode *n, cc_err *e)
{
    if (cc_y_expect(n, CC_Y_MAP, "channels", e)) return -1;
    c->channels = calloc(n->n ? n->n : 1, sizeof *c->channels);
    if (!c->channels) return cc_err_set(e, "out of memory");
    int have_default = 0;
    for (size_t i = 0; i < n->n; i++) {
        const cc_ynode *k = n->kids[i];
        if (!strcmp(k->key, "default")) {
            if (parse_channel_rule(c, k, &c->fallback, e)) return -1;
            have_default = 1;
            continue;
        }
        cc_conf_channel *r = &c->channels[c->nchannels];
        if (parse_channel_key(k, &r->first, &r->last, e) || parse_channel_rule(c, k, r, e))
            return -1;
        c->nchannels++;
    }
    if (!have_default)
        return cc_y_err(e, n,
                        "channels: a 'default' entry is required (it decides channels "
                        "not listed)");
    return 0;
}

static int parse_processing(cc_config *c, const cc_ynode *n, cc_err *e)
{
    static const char *const keys[] = {
        "workers",     "max_batch",         "max_wait_ms", "queue_capacity",
        "max_samples", "max_message_bytes", NULL};
    if (!n) return 0;
    if (cc_y_expect(n, CC_Y_MAP, "processing", e) || cc_y_check_keys(n, keys, e)) return -1;
    int64_t w = c->workers, b = c->max_batch, mw = c->max_wait_ms, q = c->queue_capacity,
            ms = c->max_samples, mb = c->max_message_bytes;
    if (cc_y_i64(n, "workers", 0, 1, 64, &w, e) || cc_y_i64(n, "max_batch", 0, 1, 4096, &b, e) ||
        cc_y_i64(n, "max_wait_ms", 0, 0, 10000, &mw, e) ||
        cc_y_i64(n, "queue_capacity", 0, 1, 10000000, &q, e) ||
        cc_y_i64(n, "max_samples", 0, 1, 1 << 24, &ms, e) ||
        cc_y_i64(n, "max_message_bytes", 0, 1024, (int64_t)1 << 30, &mb, e))
        return -1;
    c->workers = (int)w;
    c->max_batch = (int)b;
    c->max_wait_ms = (int)mw;
    c->queue_capacity = (int)q;
    c->max_samples = (uint32_t)ms;
    c->max_message_bytes = (uint32_t)mb;
    return 0;
}

static int parse_log(cc_config *c, const cc_ynode *n, cc_err *e)
{
    static const char *const keys[] = {"level", NULL};
    static const char *const names[] = {"err", "warning", "notice", "info", "debug", NULL};
    if (!n) return 0;
    if (cc_y_expect(n, CC_Y_MAP, "log", e) || cc_y_check_keys(n, keys, e)) return -1;
    const char *lv = NULL;
    if (cc_y_str(n, "level", 0, &lv, e)) return -1;
    if (!lv) return 0;
    for (int i = 0; names[i]; i++)
        if (!strcmp(lv, names[i])) return (c->log_level = LOG_ERR + i), 0;
    return cc_y_err(e, cc_y_get(n, "level"),
                    "level: expected one of err, warning, notice, info, debug; found '%s'", lv);
}

static int parse_root(cc_config *c, cc_err *e)
{
    static const char *const keys[] = {"inputs",   "outputs",    "plugin_dir", "classifiers",
                                       "channels", "processing", "monitor",    "metrics",
                                       "log",      NULL};
    const cc_ynode *r = c->doc->root;
    if (!r) return cc_err_set(e, "%s: the configuration is empty", c->path);
    if (cc_y_expect(r, CC_Y_MAP, "configuration", e) || cc_y_check_keys(r, keys, e)) return -1;

    const cc_ynode *ins = cc_y_get(r, "inputs");
    if (!ins) return cc_y_err(e, r, "missing required key 'inputs'");
    if (cc_y_expect(ins, CC_Y_SEQ, "inputs", e)) return -1;
    if (ins->n == 0) return cc_y_err(e, ins, "inputs: at least one input is needed");
    if (!(c->inputs = calloc(ins->n, sizeof *c->inputs))) return cc_err_set(e, "out of memory");
    for (size_t i = 0; i < ins->n; i++) {
        c->ninputs++; /* counted first, so cc_config_free() frees a half-parsed input */
        if (parse_input(ins->kids[i], &c->inputs[i], e)) return -1;
    }

    static const char *const okeys[] = {"decisions", "clean", "monitor", "control", "hwm", NULL};
    const cc_ynode *outs = cc_y_get(r, "outputs");
    if (!outs) return cc_y_err(e, r, "missing required key 'outputs'");
    int64_t hwm = c->out_hwm;
    if (cc_y_expect(outs, CC_Y_MAP, "outputs", e) || cc_y_check_keys(outs, okeys, e) ||
        parse_output(outs, "decisions", &c->decisions, e) ||
        parse_output(outs, "clean", &c->clean, e) ||
        parse_output(outs, "monitor", &c->monitor, e) ||
        parse_output(outs, "control", &c->control, e) ||
        cc_y_i64(outs, "hwm", 0, 0, 100000000, &hwm, e))
        return -1;
    c->out_hwm = (int)hwm;

    const char *pd = NULL;
    if (cc_y_str(r, "plugin_dir", 0, &pd, e)) return -1;
    if (pd && copy_str(c->plugin_dir, sizeof c->plugin_dir, cc_y_get(r, "plugin_dir"), "plugin_dir",
                       pd, e))
        return -1;

    const cc_ynode *cls = cc_y_get(r, "classifiers");
    if (!cls) return cc_y_err(e, r, "missing required key 'classifiers'");
    if (parse_classifiers(c, cls, e)) return -1;
    const cc_ynode *chs = cc_y_get(r, "channels");
    if (!chs) return cc_y_err(e, r, "missing required key 'channels'");
    if (parse_channels(c, chs, e) || parse_processing(c, cc_y_get(r, "processing"), e) ||
        parse_log(c, cc_y_get(r, "log"), e))
        return -1;

    const cc_ynode *mon = cc_y_get(r, "monitor");
    c->metrics_node = cc_y_get(r, "metrics");
    if (mon) {
        if (cc_monitor_config_from_yaml(mon, &c->monitor_cfg, e) ||
            cc_y_f64(mon, "interval_s", 0, 0.05, 3600, &c->monitor_interval_s, e))
            return -1;
        c->alert_notify = cc_y_get(cc_y_get(mon, "alerts"), "notify");
    }
    return 0;
}

static cc_config *finish(cc_config *c, cc_ydoc *doc, const char *name, const char *dir, cc_err *e)
{
    if (!c || !doc) {
        cc_ydoc_free(&doc);
        free(c);
        return NULL;
    }
    c->doc = doc;
    c->path = strdup(name);
    c->dir = strdup(dir);
    c->workers = 2;
    c->max_batch = 64;
    c->max_wait_ms = 5;
    c->queue_capacity = 8192;
    c->max_samples = 1u << 20;
    c->max_message_bytes = 64u << 20;
    c->out_hwm = 100000;
    c->monitor_interval_s = 1.0;
    cc_monitor_config_default(&c->monitor_cfg);
    c->log_level = LOG_INFO;
    c->fallback.cutoff = NAN;
    if (!c->path || !c->dir) {
        cc_err_set(e, "out of memory");
        cc_config_free(&c);
        return NULL;
    }
    if (parse_root(c, e)) cc_config_free(&c);
    return c;
}

cc_config *cc_config_load_string(const char *name, const char *dir, const char *text, size_t len,
                                 cc_err *e)
{
    cc_ydoc *doc = cc_ydoc_load_string(name, text, len, e);
    if (!doc) return NULL;
    return finish(calloc(1, sizeof(cc_config)), doc, name, dir ? dir : ".", e);
}

cc_config *cc_config_load_file(const char *path, cc_err *e)
{
    cc_ydoc *doc = cc_ydoc_load_file(path, e);
    if (!doc) return NULL;
    char *tmp = strdup(path);
    if (!tmp) {
        cc_ydoc_free(&doc);
        cc_err_set(e, "out of memory");
        return NULL;
    }
    cc_config *c = finish(calloc(1, sizeof(cc_config)), doc, path, dirname(tmp), e);
    free(tmp);
    return c;
}

void cc_config_free(cc_config **cp)
{
    if (!cp || !*cp) return;
    cc_config *c = *cp;
    for (size_t i = 0; i < c->ninputs; i++) {
        for (size_t j = 0; j < c->inputs[i].nsubscribe; j++) free(c->inputs[i].subscribe[j]);
        free(c->inputs[i].subscribe);
    }
    free(c->inputs);
    free(c->classifiers);
    free(c->channels);
    cc_ydoc_free(&c->doc);
    free(c->path);
    free(c->dir);
    free(c);
    *cp = NULL;
}

const cc_conf_channel *cc_config_channel(const cc_config *c, uint32_t ch)
{
    for (size_t i = 0; i < c->nchannels; i++)
        if (ch >= c->channels[i].first && ch <= c->channels[i].last) return &c->channels[i];
    return &c->fallback;
}
