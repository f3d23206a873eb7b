/* pipeline.c - a configuration plus its loaded classifiers, swapped whole on
 * reload. Workers take a reference per batch generation; the main thread owns
 * the "current" reference; whoever drops the last reference destroys it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "log.h"

#ifndef CC_PLUGIN_DIR
#define CC_PLUGIN_DIR "/usr/local/lib/cryoclean/plugins"
#endif

void ccd_plugin_dir(const cc_config *cfg, const char *override, char *buf, size_t len)
{
    if (override && *override)
        snprintf(buf, len, "%s", override);
    else if (cfg->plugin_dir[0] == '/')
        snprintf(buf, len, "%s", cfg->plugin_dir);
    else if (cfg->plugin_dir[0])
        snprintf(buf, len, "%s/%s", cfg->dir, cfg->plugin_dir);
    else
        snprintf(buf, len, "%s", CC_PLUGIN_DIR);
}

static void destroy(ccd_pipeline *p)
{
    if (!p) return;
    if (p->cls)
        for (size_t i = 0; i < p->cfg->nclassifiers; i++) cc_classifier_destroy(&p->cls[i]);
    free(p->cls);
    cc_registry_free(&p->reg);
    cc_config_free(&p->cfg);
    free(p);
}

/* Plugins' log lines (cc_plugin_env.log) go to the daemon's log. */
static void plugin_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    log_msg(level, "%s", msg);
}

ccd_pipeline *ccd_pipeline_new(cc_config *cfg, const char *plugin_dir, cc_err *e)
{
    ccd_pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        cc_config_free(&cfg);
        cc_err_set(e, "out of memory");
        return NULL;
    }
    p->cfg = cfg;
    p->reg = cc_registry_new(plugin_dir);
    if (p->reg) cc_registry_set_log(p->reg, plugin_log, NULL);
    p->cls = calloc(cfg->nclassifiers, sizeof *p->cls);
    if (!p->reg || !p->cls) {
        destroy(p);
        cc_err_set(e, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < cfg->nclassifiers; i++) {
        const cc_conf_classifier *c = &cfg->classifiers[i];
        if (cc_classifier_create(p->reg, c->name, c->plugin, c->config, cfg->dir, &p->cls[i], e)) {
            destroy(p);
            return NULL;
        }
        if (p->cls[i].info.input_len > p->max_input_len)
            p->max_input_len = p->cls[i].info.input_len;
        log_info("classifier '%s': plugin %s %s, model '%s', input %zu, default cutoff %.3f",
                 c->name, c->plugin, p->cls[i].ops->version ? p->cls[i].ops->version : "",
                 p->cls[i].info.model, p->cls[i].info.input_len, p->cls[i].info.default_cutoff);
    }
    atomic_init(&p->refs, 1);
    return p;
}

ccd_pipeline *ccd_pipeline_acquire(ccd *d)
{
    pthread_mutex_lock(&d->pipe_mu);
    ccd_pipeline *p = d->pipe;
    atomic_fetch_add(&p->refs, 1);
    pthread_mutex_unlock(&d->pipe_mu);
    return p;
}

void ccd_pipeline_release(ccd_pipeline *p)
{
    if (p && atomic_fetch_sub(&p->refs, 1) == 1) destroy(p);
}

void ccd_item_free(ccd_item *it)
{
    if (!it) return;
    for (int i = 0; i < it->nframes; i++) zmq_msg_close(&it->frames[i]);
    free(it);
}

uint64_t ccd_mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

uint64_t ccd_real_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}
