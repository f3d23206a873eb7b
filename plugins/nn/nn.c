/* nn.c - the `nn` classifier plugin: a neural network, or an ensemble of
 * networks, from model cards.
 *
 * Configuration (the classifier's `config:` block):
 *     model: models/cait-cnn.yaml   # model card, relative to the config file's directory
 *     model: [a.yaml, b.yaml, c.yaml]   # or an ensemble: the mean of the members' P(clean)
 *     threads: 1                    # optional: OpenBLAS threads (process-wide; default:
 *                                   # leave OPENBLAS_NUM_THREADS alone)
 *     standard_events: det.yaml     # required by template-conditioned cards (input
 *                                   # channels: 2): each channel's standard event;
 *                                   # or a list, one preset per module;
 *                                   # or `learn`: learnt per channel (nn_learn.h)
 *     bootstrap: cnn-default.yaml   # with learn: scores a channel until it has one
 *     learn: {pulses: 200, min_snr: 20, min_score: 0.9,   # optional, with learn
 *             save: /var/lib/cryoclean/standard-events.yaml}  # keep what was learnt
 *
 * create() loads every card and its weights and runs its self-test (a model
 * that fails is refused with the reason); the members of an ensemble must
 * take the same input length, and the first member's cutoff is the
 * ensemble's. Each worker thread gets one workspace per member for
 * max_batch records; classify() runs the whole batch through each network
 * on the preprocessed inputs and writes P(clean), averaged over the
 * members. The loaded models are read-only and shared by all workers.
 *
 * Template conditioning: a card with `input: {channels: 2}` takes the record
 * and its channel's standard event (docs/NN.md). standard_events names a
 * detector preset in the simulator's format (`cryoclean sev` writes one from
 * a recorded run; conf/train/sim-det-*.yaml): for each of its channels (by
 * wire id) create() renders the pulse shape with peak 1 at the trigger over
 * the preset's record length and preprocesses it like a record. A record of
 * a channel the preset does not have, or of another length, is scored NaN
 * (the core answers that record classifier_error, the rest of the batch is
 * scored) with a note in e naming the channel and the preset.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_nn.h"
#include "cc_plugin.h"
#include "cc_sev.h"
#include "nn_learn.h"

void openblas_set_num_threads(int num_threads);

#define NN_MAX_MEMBERS 16

typedef struct nn_inst {
    size_t n; /* members */
    cc_nn_model *m[NN_MAX_MEMBERS];
    /* standard events (only when a member takes them), one per channel */
    size_t nt;
    struct nn_sev {
        uint32_t id;      /* wire channel id */
        uint32_t samples; /* the preset's record length */
        size_t file;      /* index into t_path */
    } * t;
    float *tpl;    /* [nt][L] preprocessed */
    char **t_path; /* the presets, for messages */
    size_t n_path;
    nn_learn *learn; /* standard_events: learn (then n == 1) */
} nn_inst;

typedef struct nn_ws {
    cc_nn_ws *w[NN_MAX_MEMBERS];
    float *tmp;  /* one member's scores [max_batch] (ensembles only) */
    float *x2;   /* [max_batch][2][L]: records with their standard events */
    size_t *bad; /* [max_batch]: records without a standard event */
    /* learn mode: records of learnt channels (x2, im, sm) and of the others,
     * for the bootstrap (xb, ib, sb, wb) */
    float *xb, *sb, *sm;
    size_t *ib, *im;
    cc_nn_ws *wb;
} nn_ws;

static int wants_sev(const cc_nn_model *m)
{
    return cc_nn_input_channels(m) == 2;
}

static void nn_destroy(void *inst)
{
    nn_inst *s = inst;
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) cc_nn_free(&s->m[i]);
    free(s->tpl);
    free(s->t);
    for (size_t i = 0; i < s->n_path; i++) free(s->t_path[i]);
    free(s->t_path);
    nn_learn_free(&s->learn);
    free(s);
}

/* The file named by scalar node c of config key `key`, relative to dir
 * unless absolute, into path[PATH_MAX]; `what` says what c should be. */
static int file_path(const cc_ynode *c, const char *dir, const char *key, const char *what,
                     char *path, cc_err *e)
{
    if (!c || c->type != CC_Y_SCALAR || !*c->str)
        return cc_y_err(e, c, "%s: expected %s", key, what);
    int k = c->str[0] == '/' ? snprintf(path, PATH_MAX, "%s", c->str)
                             : snprintf(path, PATH_MAX, "%s/%s", dir, c->str);
    if (k < 0 || k >= PATH_MAX) return cc_y_err(e, c, "%s: path too long", key);
    return 0;
}

/* Loads the card named by scalar node c (relative to dir) as member s->n. */
static int load_member(nn_inst *s, const cc_ynode *c, const char *dir, cc_err *e)
{
    char path[PATH_MAX];
    if (file_path(c, dir, "model", "a card path or a list of card paths", path, e)) return -1;
    cc_nn_model *m = cc_nn_load(path, e);
    if (!m) return -1;
    if (s->n && cc_nn_input_len(m) != cc_nn_input_len(s->m[0])) {
        int rc = cc_y_err(e, c, "model: ensemble member %s takes %zu inputs, %s takes %zu", path,
                          cc_nn_input_len(m), cc_nn_name(s->m[0]), cc_nn_input_len(s->m[0]));
        cc_nn_free(&m);
        return rc;
    }
    s->m[s->n++] = m;
    return 0;
}

/* Renders and preprocesses the standard events of the preset at node c and
 * appends them to s's table. */
static int load_sev(nn_inst *s, const cc_ynode *c, const char *dir, cc_err *e)
{
    char path[PATH_MAX];
    if (file_path(c, dir, "standard_events", "a detector preset path or a list of them", path, e))
        return -1;
    cc_sim_config cfg;
    if (cc_sim_config_load(path, &cfg, e)) return -1;
    const size_t L = cc_nn_input_len(s->m[0]), N = cfg.n_samples, nt = s->nt + cfg.n_channels;
    float *tpl = realloc(s->tpl, nt * L * sizeof *tpl);
    struct nn_sev *t = tpl ? realloc(s->t, nt * sizeof *t) : NULL;
    char **pp = t ? realloc(s->t_path, (s->n_path + 1) * sizeof *pp) : NULL;
    if (tpl) s->tpl = tpl;
    if (t) s->t = t;
    if (pp) s->t_path = pp;
    if (!pp || !(pp[s->n_path] = strdup(path))) return cc_err_set(e, "out of memory");
    const size_t file = s->n_path++;
    int rc = 0;
    for (uint32_t i = 0; i < cfg.n_channels && !rc; i++) {
        for (size_t j = 0; j < s->nt && !rc; j++)
            if (s->t[j].id == cfg.ch[i].id)
                rc = cc_y_err(e, c, "standard_events: channel %u is in both %s and %s",
                              cfg.ch[i].id, s->t_path[s->t[j].file], path);
        if (!rc && cc_sev_input(&cfg.ch[i].shape, cfg.fs_hz, (uint32_t)(N / 4), (uint32_t)N,
                                s->tpl + s->nt * L, L))
            rc = cc_y_err(e, c,
                          "standard_events: %s: channel %u: the pulse does not render to "
                          "%zu values",
                          path, cfg.ch[i].id, L);
        if (!rc) s->t[s->nt++] = (struct nn_sev){cfg.ch[i].id, (uint32_t)N, file};
    }
    return rc;
}

/* standard_events: learn - one template-conditioned card, a bootstrap card
 * of one input channel and the same length, the learner's settings. */
static int setup_learn(nn_inst *s, const cc_ynode *conf, const char *dir, const cc_plugin_env *env,
                       cc_err *e)
{
    static const char *const lkeys[] = {"pulses", "min_snr", "min_score", "save", NULL};
    const cc_ynode *bn = cc_y_get(conf, "bootstrap"), *ln = cc_y_get(conf, "learn");
    int64_t pulses = 200;
    double min_snr = 20, min_score = 0.9;
    if (s->n != 1 || !wants_sev(s->m[0]))
        return cc_y_err(e, cc_y_get(conf, "standard_events"),
                        "standard_events: learn takes one card with 2 input channels");
    if (!bn)
        return cc_y_err(e, conf,
                        "nn config: standard_events: learn needs 'bootstrap: CARD.yaml', the "
                        "model that scores a channel until its standard event is learnt");
    if (ln && (cc_y_expect(ln, CC_Y_MAP, "learn", e) || cc_y_check_keys(ln, lkeys, e) ||
               cc_y_i64(ln, "pulses", 0, 10, 100000, &pulses, e) ||
               cc_y_f64(ln, "min_snr", 0, 1, 1e6, &min_snr, e) ||
               cc_y_f64(ln, "min_score", 0, 0, 1, &min_score, e)))
        return -1;
    char path[PATH_MAX], save[PATH_MAX];
    const cc_ynode *sv = ln ? cc_y_get(ln, "save") : NULL;
    if (file_path(bn, dir, "bootstrap", "a card path", path, e) ||
        (sv && file_path(sv, dir, "learn.save", "a file path", save, e)))
        return -1;
    cc_nn_model *boot = cc_nn_load(path, e);
    if (!boot) return -1;
    if (cc_nn_input_channels(boot) != 1 || cc_nn_input_len(boot) != cc_nn_input_len(s->m[0])) {
        int rc =
            cc_y_err(e, bn, "bootstrap: %s takes %zu x %zu inputs, it must take 1 x %zu", path,
                     cc_nn_input_channels(boot), cc_nn_input_len(boot), cc_nn_input_len(s->m[0]));
        cc_nn_free(&boot);
        return rc;
    }
    cc_sev_learn_opts o = {.pulses = (uint32_t)pulses, .min_snr = min_snr};
    s->learn = nn_learn_new(boot, cc_nn_input_len(s->m[0]), &o, min_score, sv ? save : NULL, env,
                            cc_nn_name(s->m[0]), e);
    if (!s->learn) return -1;
    char msg[512];
    snprintf(msg, sizeof msg,
             "classifier '%s': learning each channel's standard event from the first %u pulses "
             "(SNR >= %g) that %s accepts with P >= %g; it scores the channel until then",
             env && env->name ? env->name : "nn", o.pulses, min_snr, cc_nn_name(boot), min_score);
    if (env && env->log) env->log(env->log_ctx, 6 /* LOG_INFO */, msg);
    return 0;
}

static int nn_create(const cc_ynode *conf, const cc_plugin_env *env, void **inst,
                     cc_classifier_info *info, cc_err *e)
{
    static const char *const keys[] = {"model",     "threads", "standard_events",
                                       "bootstrap", "learn",   NULL};
    int64_t threads = 0;
    if (!conf) return cc_err_set(e, "nn: a config block with 'model: CARD.yaml' is required");
    if (cc_y_expect(conf, CC_Y_MAP, "nn config", e) || cc_y_check_keys(conf, keys, e) ||
        cc_y_i64(conf, "threads", 0, 1, 64, &threads, e))
        return -1;
    const cc_ynode *mn = cc_y_get(conf, "model");
    if (!mn) return cc_y_err(e, conf, "nn config: 'model' is required");
    if (mn->type == CC_Y_SEQ && (mn->n < 1 || mn->n > NN_MAX_MEMBERS))
        return cc_y_err(e, mn, "model: an ensemble has 1 to %d members, found %zu", NN_MAX_MEMBERS,
                        mn->n);
    const char *dir = env && env->config_dir && *env->config_dir ? env->config_dir : ".";
    nn_inst *s = calloc(1, sizeof *s);
    if (!s) return cc_err_set(e, "out of memory");
    const size_t n = mn->type == CC_Y_SEQ ? mn->n : 1;
    for (size_t i = 0; i < n; i++)
        if (load_member(s, mn->type == CC_Y_SEQ ? mn->kids[i] : mn, dir, e)) {
            nn_destroy(s);
            return -1;
        }
    const cc_ynode *sn = cc_y_get(conf, "standard_events");
    int want = 0;
    for (size_t i = 0; i < s->n; i++) want |= wants_sev(s->m[i]);
    const int learn = sn && sn->type == CC_Y_SCALAR && !strcmp(sn->str, "learn");
    int bad = 0;
    if ((cc_y_get(conf, "bootstrap") || cc_y_get(conf, "learn")) && !learn)
        bad = cc_y_err(e, conf, "nn config: bootstrap and learn go with 'standard_events: learn'");
    else if (want != (sn != NULL))
        bad = cc_y_err(e, sn ? sn : conf,
                       want ? "nn config: %s takes each channel's standard event as a second "
                              "input; give 'standard_events: DET.yaml' (a detector preset, e.g. "
                              "from `cryoclean sev`) or 'standard_events: learn'"
                            : "nn config: standard_events given, but %s does not take them",
                       cc_nn_name(s->m[0]));
    else if (learn)
        bad = setup_learn(s, conf, dir, env, e);
    else if (sn && sn->type == CC_Y_SEQ) {
        if (!sn->n) bad = cc_y_err(e, sn, "standard_events: the list is empty");
        for (size_t i = 0; i < sn->n && !bad; i++) bad = load_sev(s, sn->kids[i], dir, e);
    } else if (sn)
        bad = load_sev(s, sn, dir, e);
    if (bad) {
        nn_destroy(s);
        return -1;
    }
    if (threads) openblas_set_num_threads((int)threads);
    memset(info, 0, sizeof *info);
    info->input_len = cc_nn_input_len(s->m[0]);
    info->default_cutoff = cc_nn_cutoff(s->m[0]);
    /* "name" for one model, "name+N" for it and N more members */
    char more[16] = "";
    if (s->n > 1) snprintf(more, sizeof more, "+%zu", s->n - 1);
    if (s->learn) snprintf(more, sizeof more, "/learn");
    snprintf(info->model, sizeof info->model, "%.*s%s",
             (int)(sizeof info->model - 1 - strlen(more)), cc_nn_name(s->m[0]), more);
    *inst = s;
    return 0;
}

static void nn_ws_free(void *inst, void *ws)
{
    nn_ws *w = ws;
    (void)inst;
    if (!w) return;
    for (size_t i = 0; i < NN_MAX_MEMBERS; i++) cc_nn_ws_free(&w->w[i]);
    free(w->tmp);
    free(w->x2);
    free(w->bad);
    free(w->xb), free(w->sb), free(w->sm), free(w->ib), free(w->im);
    cc_nn_ws_free(&w->wb);
    free(w);
}

static void *nn_ws_new(void *inst, size_t max_batch)
{
    const nn_inst *s = inst;
    nn_ws *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    const size_t mb = max_batch ? max_batch : 1, L = cc_nn_input_len(s->m[0]);
    int ok = s->n == 1 || (w->tmp = malloc(mb * sizeof *w->tmp));
    if (ok && s->tpl)
        ok = (w->x2 = malloc(mb * 2 * L * sizeof *w->x2)) && (w->bad = malloc(mb * sizeof *w->bad));
    if (ok && s->learn)
        ok = (w->x2 = malloc(mb * 2 * L * sizeof *w->x2)) &&
             (w->xb = malloc(mb * L * sizeof *w->xb)) && (w->sb = malloc(mb * sizeof *w->sb)) &&
             (w->sm = malloc(mb * sizeof *w->sm)) && (w->ib = malloc(mb * sizeof *w->ib)) &&
             (w->im = malloc(mb * sizeof *w->im)) &&
             (w->wb = cc_nn_ws_new(nn_learn_boot(s->learn), max_batch));
    for (size_t i = 0; ok && i < s->n; i++) ok = (w->w[i] = cc_nn_ws_new(s->m[i], max_batch)) != 0;
    if (!ok) nn_ws_free(inst, w), w = NULL;
    return w;
}

/* Learn mode: learnt channels through the conditioned card, the others
 * through the bootstrap, whose confident accepts feed the learners. */
static int classify_learn(const nn_inst *s, nn_ws *w, const cc_batch *b, float *scores, cc_err *e)
{
    size_t nm, nb;
    if (nn_learn_split(s->learn, b, w->x2, w->im, &nm, w->xb, w->ib, &nb))
        return cc_err_set(e, "nn %s: out of memory", cc_nn_name(s->m[0]));
    if (nm && cc_nn_score(s->m[0], w->w[0], w->x2, nm, w->sm, e)) return -1;
    if (nb && cc_nn_score(nn_learn_boot(s->learn), w->wb, w->xb, nb, w->sb, e)) return -1;
    for (size_t j = 0; j < nm; j++) scores[w->im[j]] = w->sm[j];
    for (size_t j = 0; j < nb; j++) scores[w->ib[j]] = w->sb[j];
    if (nb) nn_learn_offer(s->learn, b, w->ib, w->sb, nb);
    return 0;
}

static int nn_classify(void *inst, void *ws, const cc_batch *b, float *scores, cc_err *e)
{
    const nn_inst *s = inst;
    nn_ws *w = ws;
    const size_t L = cc_nn_input_len(s->m[0]);
    if (!b->x || b->input_len != L)
        return cc_err_set(e, "nn %s: batch input length %zu, the model needs %zu",
                          cc_nn_name(s->m[0]), b->x ? b->input_len : 0, L);
    if (s->learn) return classify_learn(s, w, b, scores, e);
    /* each record followed by its channel's standard event; a record without
     * one is scored NaN (the core answers it classifier_error) and noted in e */
    size_t n_bad = 0, *bad = w->bad;
    if (s->tpl)
        for (size_t i = 0; i < b->n; i++) {
            size_t t = 0;
            while (t < s->nt && s->t[t].id != b->meta[i].channel) t++;
            if (t == s->nt || b->meta[i].n_samples != s->t[t].samples) {
                if (!n_bad && t == s->nt)
                    cc_err_set(e, "nn %s: no standard event for channel %u in %s%s",
                               cc_nn_name(s->m[0]), b->meta[i].channel, s->t_path[0],
                               s->n_path > 1 ? " and the other standard_events" : "");
                else if (!n_bad)
                    cc_err_set(e,
                               "nn %s: channel %u: records of %u samples, the standard events of "
                               "%s are for %u",
                               cc_nn_name(s->m[0]), b->meta[i].channel, b->meta[i].n_samples,
                               s->t_path[s->t[t].file], s->t[t].samples);
                bad[n_bad++] = i;
                t = 0; /* any template: the score is replaced below */
            }
            memcpy(w->x2 + 2 * i * L, b->x + i * L, L * sizeof *w->x2);
            memcpy(w->x2 + (2 * i + 1) * L, s->tpl + t * L, L * sizeof *w->x2);
        }
    const float *x0 = wants_sev(s->m[0]) ? w->x2 : b->x;
    if (cc_nn_score(s->m[0], w->w[0], x0, b->n, scores, e)) return -1;
    for (size_t k = 1; k < s->n; k++) {
        const float *xk = wants_sev(s->m[k]) ? w->x2 : b->x;
        if (cc_nn_score(s->m[k], w->w[k], xk, b->n, w->tmp, e)) return -1;
        for (size_t i = 0; i < b->n; i++) scores[i] += w->tmp[i];
    }
    if (s->n > 1)
        for (size_t i = 0; i < b->n; i++) scores[i] /= (float)s->n;
    for (size_t i = 0; i < n_bad; i++) scores[bad[i]] = NAN;
    return 0;
}

const cc_classifier_ops *cryoclean_classifier_v1(void)
{
    static const cc_classifier_ops ops = {
        .abi = CC_PLUGIN_ABI,
        .size = sizeof(cc_classifier_ops),
        .name = "nn",
        .version = "1.3",
        .create = nn_create,
        .ws_new = nn_ws_new,
        .classify = nn_classify,
        .ws_free = nn_ws_free,
        .destroy = nn_destroy,
    };
    return &ops;
}
