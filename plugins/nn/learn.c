/* learn.c - see nn_learn.h. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "nn_learn.h"

enum { LEARNING, FITTING, READY, FAILED };

typedef struct chan {
    uint32_t id, samples, trig;
    double fs;
    int state;
    cc_sev_learner *sl; /* LEARNING / FITTING */
    float *tpl;         /* READY: [L] */
    cc_sim_shape shape; /* READY: the fitted (or loaded) pulse shape */
} chan;

struct nn_learn {
    cc_nn_model *boot;
    size_t L;
    cc_sev_learn_opts opts;
    double min_score;
    void (*log)(void *ctx, int level, const char *msg);
    void *log_ctx;
    char name[64], card[24];
    char *save; /* learnt standard events kept here (a detector preset), or NULL */
    pthread_mutex_t mu;
    chan **ch;
    size_t n, cap;
};

static void say(const nn_learn *l, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(const nn_learn *l, int level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (l->log) l->log(l->log_ctx, level, msg);
}

/* Renders shape sh for records of c (samples, fs, trig) into c->tpl; 0 or -1. */
static int make_template(const nn_learn *l, chan *c, const cc_sim_shape *sh)
{
    float *tpl = malloc(l->L * sizeof *tpl);
    if (!tpl || cc_sev_input(sh, c->fs, c->trig, c->samples, tpl, l->L)) return free(tpl), -1;
    c->tpl = tpl, c->shape = *sh;
    return 0;
}

/* Appends channel c to the table (under the lock, or before it is shared). */
static int add_chan(nn_learn *l, chan *c)
{
    if (l->n == l->cap) {
        chan **t = realloc(l->ch, (l->cap ? 2 * l->cap : 16) * sizeof *t);
        if (!t) return -1;
        l->ch = t, l->cap = l->cap ? 2 * l->cap : 16;
    }
    l->ch[l->n++] = c;
    return 0;
}

/* The channels kept in l->save, if it exists: learnt from the start. */
static int load_saved(nn_learn *l, cc_err *e)
{
    if (access(l->save, F_OK)) return 0; /* nothing learnt yet */
    cc_sim_config cfg;
    if (cc_sim_config_load(l->save, &cfg, e))
        return cc_err_prefix(e, "learn.save (learnt standard events; delete it to learn again)");
    for (uint32_t i = 0; i < cfg.n_channels; i++) {
        chan *c = calloc(1, sizeof *c);
        if (!c) return cc_err_set(e, "out of memory");
        *c = (chan){.id = cfg.ch[i].id,
                    .samples = cfg.n_samples,
                    .trig = cfg.n_samples / 4,
                    .fs = cfg.fs_hz,
                    .state = READY};
        if (make_template(l, c, &cfg.ch[i].shape) || add_chan(l, c)) {
            free(c->tpl), free(c);
            return cc_err_set(e, "%s: channel %u: cannot render its standard event", l->save,
                              cfg.ch[i].id);
        }
    }
    say(l, LOG_INFO, "classifier '%s': the standard events of %u channels from %s", l->name,
        cfg.n_channels, l->save);
    return 0;
}

/* Writes the learnt standard events of records of c's length to l->save
 * (a temporary file renamed over it); under the lock. */
static void save_learnt(const nn_learn *l, const chan *c)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", l->save);
    FILE *f = fopen(tmp, "w");
    int ok = f != NULL;
    if (ok) {
        fprintf(f,
                "# Standard events learnt by the nn plugin (classifier '%s', standard_events: "
                "learn,\n# docs/NN.md): a detector preset; delete it to learn them again.\n"
                "sim:\n  samples: %u\n  fs_hz: %.17g\n  channels:\n",
                l->name, c->samples, c->fs);
        for (size_t i = 0; i < l->n; i++) {
            const chan *d = l->ch[i];
            if (d->state != READY || d->samples != c->samples) continue;
            fprintf(f,
                    "    - {name: ch%u, id: %u, kind: phonon, shape: {an: %.9g, at: %.9g, "
                    "tau_n: %.9g, tau_in: %.9g, tau_t: %.9g}}\n",
                    d->id, d->id, d->shape.an, d->shape.at, d->shape.tau_n, d->shape.tau_in,
                    d->shape.tau_t);
        }
        ok = !ferror(f);
        ok = !fclose(f) && ok && !rename(tmp, l->save);
    }
    if (!ok) {
        say(l, LOG_WARNING, "classifier '%s': cannot write %s: %s", l->name, l->save,
            strerror(errno));
        unlink(tmp);
    }
}

nn_learn *nn_learn_new(cc_nn_model *boot, size_t L, const cc_sev_learn_opts *opts, double min_score,
                       const char *save, const cc_plugin_env *env, const char *card, cc_err *e)
{
    nn_learn *l = calloc(1, sizeof *l);
    if (!l) {
        cc_nn_free(&boot);
        cc_err_set(e, "out of memory");
        return NULL;
    }
    l->boot = boot, l->L = L, l->opts = *opts, l->min_score = min_score;
    l->log = env ? env->log : NULL, l->log_ctx = env ? env->log_ctx : NULL;
    snprintf(l->name, sizeof l->name, "%s", env && env->name ? env->name : "nn");
    snprintf(l->card, sizeof l->card, "%s", card);
    pthread_mutex_init(&l->mu, NULL);
    if (save && (!(l->save = strdup(save)) || load_saved(l, e))) {
        if (!l->save) cc_err_set(e, "out of memory");
        nn_learn_free(&l);
        return NULL;
    }
    return l;
}

void nn_learn_free(nn_learn **lp)
{
    if (!lp || !*lp) return;
    nn_learn *l = *lp;
    for (size_t i = 0; i < l->n; i++) {
        cc_sev_learner_free(&l->ch[i]->sl);
        free(l->ch[i]->tpl);
        free(l->ch[i]);
    }
    free(l->ch);
    free(l->save);
    cc_nn_free(&l->boot);
    pthread_mutex_destroy(&l->mu);
    free(l);
    *lp = NULL;
}

const cc_nn_model *nn_learn_boot(const nn_learn *l)
{
    return l->boot;
}

/* The channel of id, or NULL; under the lock. */
static chan *find(const nn_learn *l, uint32_t id)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->ch[i]->id == id) return l->ch[i];
    return NULL;
}

/* The channel of record m, registered (learning) on first sight; NULL when
 * out of memory. Under the lock. */
static chan *channel_of(nn_learn *l, const cc_record_meta *m)
{
    chan *c = find(l, m->channel);
    if (c) return c;
    cc_err e = {""};
    const double fs = m->sample_rate_hz > 0 ? m->sample_rate_hz : 25000;
    if (!(c = calloc(1, sizeof *c)) || add_chan(l, c)) return free(c), NULL;
    *c = (chan){.id = m->channel, .samples = m->n_samples, .trig = m->trigger_index, .fs = fs};
    if (!(c->sl = cc_sev_learner_new(m->n_samples, fs, m->trigger_index, &l->opts, &e))) {
        c->state = FAILED;
        say(l, LOG_WARNING, "classifier '%s': channel %u: cannot learn its standard event (%s)",
            l->name, m->channel, e.msg);
    }
    return c;
}

int nn_learn_split(nn_learn *l, const cc_batch *b, float *x2, size_t *im, size_t *nm, float *xb,
                   size_t *ib, size_t *nb)
{
    const size_t L = l->L;
    int rc = 0;
    *nm = *nb = 0;
    pthread_mutex_lock(&l->mu); /* once per batch */
    for (size_t i = 0; i < b->n && !rc; i++) {
        const chan *c = channel_of(l, &b->meta[i]);
        if (!c)
            rc = -1;
        else if (c->state == READY && b->meta[i].n_samples == c->samples) {
            memcpy(x2 + 2 * *nm * L, b->x + i * L, L * sizeof *x2);
            memcpy(x2 + (2 * *nm + 1) * L, c->tpl, L * sizeof *x2);
            im[(*nm)++] = i;
        } else {
            memcpy(xb + *nb * L, b->x + i * L, L * sizeof *xb);
            ib[(*nb)++] = i;
        }
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

/* Fits channel c (state FITTING, so no other thread touches its learner)
 * and publishes its template, or marks it FAILED. Called without the lock. */
static void fit(nn_learn *l, chan *c)
{
    cc_err e = {""};
    cc_sim_shape sh;
    cc_sim_shape_fitres r;
    int ok = !cc_sev_learner_fit(c->sl, &sh, &r, &e);
    if (ok && make_template(l, c, &sh)) ok = 0, cc_err_set(&e, "the fitted pulse does not render");
    pthread_mutex_lock(&l->mu);
    cc_sev_learner_free(&c->sl);
    c->state = ok ? READY : FAILED;
    if (ok && l->save) save_learnt(l, c);
    pthread_mutex_unlock(&l->mu);
    if (ok)
        say(l, LOG_INFO,
            "classifier '%s': channel %u: standard event learnt from %u pulses - shape {an: %.4g, "
            "at: %.4g, tau_n: %.4g, tau_in: %.4g, tau_t: %.4g}, fit residual %.2g of the peak; "
            "%s scores the channel from now on",
            l->name, c->id, l->opts.pulses, sh.an, sh.at, sh.tau_n, sh.tau_in, sh.tau_t, r.rms,
            l->card);
    else
        say(l, LOG_WARNING,
            "classifier '%s': channel %u: no standard event (%s); the bootstrap model keeps "
            "scoring it",
            l->name, c->id, e.msg);
}

void nn_learn_offer(nn_learn *l, const cc_batch *b, const size_t *idx, const float *score, size_t n)
{
    chan *done[64];
    size_t nd = 0;
    pthread_mutex_lock(&l->mu);
    for (size_t j = 0; j < n; j++) {
        const cc_record_meta *m = &b->meta[idx[j]];
        chan *c = find(l, m->channel);
        if (!c || c->state != LEARNING || m->n_samples != c->samples || !(score[j] >= l->min_score))
            continue;
        cc_sev_learner_add(c->sl, b->raw[idx[j]]);
        if (cc_sev_learner_complete(c->sl) && nd < 64) c->state = FITTING, done[nd++] = c;
    }
    pthread_mutex_unlock(&l->mu);
    for (size_t k = 0; k < nd; k++) fit(l, done[k]);
}
