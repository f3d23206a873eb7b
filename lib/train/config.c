/* config.c - the training configuration: defaults (the paper's recipe) and
 * the YAML file (docs/TRAINING.md). Every key is optional except the model,
 * the output and the data lists; paths are relative to the file.
 */
#include "train_int.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_yaml.h"

void cc_train_config_default(cc_train_config *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->group, "events");
    c->seed = 1;
    c->epochs = 15;
    c->batch = 64;
    c->beta1 = 0.9, c->beta2 = 0.999, c->eps = 1e-8;
    c->balance = 1;
    c->weak_shuffle = 1;
    c->dropout = 1;
    c->pileup_p = 0.2, c->noise_p = 0.2, c->noise_lo = 0.01, c->noise_hi = 0.1;
    c->pileup_ratio_lo = c->pileup_ratio_hi = 1.0;
    c->pileup_dt_min = 1;
    c->shift_max = 26;
    c->tpl_stretch_lo = c->tpl_stretch_hi = 1.0;
    strcpy(c->source_dir, ".");
}

void cc_train_config_release(cc_train_config *c)
{
    for (size_t i = 0; i < c->n_train; i++) free(c->train_files[i]);
    for (size_t i = 0; i < c->n_val; i++) free(c->val_files[i]);
    c->n_train = c->n_val = 0;
}

static int resolve(const cc_train_config *c, const cc_ynode *n, const char *s, char *out,
                   size_t len, cc_err *e)
{
    int k =
        s[0] == '/' ? snprintf(out, len, "%s", s) : snprintf(out, len, "%s/%s", c->source_dir, s);
    if (k < 0 || (size_t)k >= len) return cc_y_err(e, n, "path too long");
    return 0;
}

static int path_key(const cc_train_config *c, const cc_ynode *map, const char *key, int required,
                    char *out, size_t len, cc_err *e)
{
    const char *s = NULL;
    if (cc_y_str(map, key, required, &s, e)) return -1;
    return s ? resolve(c, cc_y_get(map, key), s, out, len, e) : 0;
}

static int file_list(const char *dir, const cc_ynode *seq, const char *what, char **out, size_t *n,
                     cc_err *e)
{
    if (cc_y_expect(seq, CC_Y_SEQ, what, e)) return -1;
    if (!seq->n) return cc_y_err(e, seq, "%s: no files", what);
    if (seq->n > CC_TRAIN_MAX_FILES)
        return cc_y_err(e, seq, "%s: %zu files, at most %d", what, seq->n, CC_TRAIN_MAX_FILES);
    for (size_t i = 0; i < seq->n; i++) {
        char p[1024];
        const char *f = seq->kids[i]->str;
        int k = f && f[0] != '/' ? snprintf(p, sizeof p, "%s/%s", dir, f) : 0;
        if (cc_y_expect(seq->kids[i], CC_Y_SCALAR, what, e)) return -1;
        if (k < 0 || (size_t)k >= sizeof p) return cc_y_err(e, seq->kids[i], "path too long");
        if (f[0] == '/') snprintf(p, sizeof p, "%s", f);
        if (!(out[(*n)++] = strdup(p))) return cc_err_set(e, "out of memory");
    }
    return 0;
}

static int u32_key(const cc_ynode *m, const char *k, int64_t lo, int64_t hi, uint32_t *out,
                   cc_err *e)
{
    int64_t v = *out;
    if (cc_y_i64(m, k, 0, lo, hi, &v, e)) return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse(cc_train_config *c, const cc_ynode *t, const char *data_dir, cc_err *e)
{
    static const char *const keys[] = {
        "model",   "output",  "checkpoint", "name",    "description", "init",
        "data",    "seed",    "epochs",     "batch",   "optimizer",   "loss",
        "shuffle", "augment", "batchnorm",  "dropout", NULL};
    static const char *const dkeys[] = {"dir",   "train",        "validation",
                                        "group", "max_per_file", NULL};
    static const char *const okeys[] = {"lr",       "beta1",  "beta2", "eps",
                                        "schedule", "lr_min", "ema",   NULL};
    static const char *const lkeys[] = {"balance", NULL};
    static const char *const akeys[] = {"pileup_p",      "pileup_ratio",     "pileup_near",
                                        "pileup_dt_min", "noise_p",          "noise_sigma",
                                        "shift_max",     "template_stretch", NULL};
    const char *s = NULL;
    int64_t i64;
    if (cc_y_expect(t, CC_Y_MAP, "train", e) || cc_y_check_keys(t, keys, e) ||
        path_key(c, t, "model", 1, c->model, sizeof c->model, e) ||
        path_key(c, t, "output", 1, c->output, sizeof c->output, e) ||
        path_key(c, t, "checkpoint", 0, c->checkpoint, sizeof c->checkpoint, e))
        return -1;
    if (cc_y_str(t, "name", 0, &s, e)) return -1;
    if (s && (!*s || strlen(s) >= sizeof c->name))
        return cc_y_err(e, cc_y_get(t, "name"), "name: 1 to %zu characters", sizeof c->name - 1);
    if (s) strcpy(c->name, s);
    s = NULL;
    if (cc_y_str(t, "description", 0, &s, e)) return -1;
    if (s) snprintf(c->description, sizeof c->description, "%s", s);
    s = NULL;
    if (cc_y_str(t, "init", 0, &s, e)) return -1;
    if (s && strcmp(s, "seed") && strcmp(s, "card"))
        return cc_y_err(e, cc_y_get(t, "init"), "init: expected seed or card, found '%s'", s);
    c->init_from_card = s && !strcmp(s, "card");
    i64 = (int64_t)c->seed;
    if (cc_y_i64(t, "seed", 0, 0, INT64_MAX, &i64, e)) return -1;
    c->seed = (uint64_t)i64;
    if (u32_key(t, "epochs", 1, 100000, &c->epochs, e) ||
        u32_key(t, "batch", 1, 4096, &c->batch, e))
        return -1;
    s = NULL;
    if (cc_y_str(t, "shuffle", 0, &s, e)) return -1;
    if (s && strcmp(s, "weak") && strcmp(s, "full"))
        return cc_y_err(e, cc_y_get(t, "shuffle"), "shuffle: expected weak or full, found '%s'", s);
    if (s) c->weak_shuffle = !strcmp(s, "weak");
    s = NULL;
    if (cc_y_str(t, "batchnorm", 0, &s, e) || cc_y_bool(t, "dropout", 0, &c->dropout, e)) return -1;
    if (s && strcmp(s, "batch") && strcmp(s, "frozen"))
        return cc_y_err(e, cc_y_get(t, "batchnorm"),
                        "batchnorm: expected batch or frozen, found '%s'", s);
    if (s) c->bn_frozen = !strcmp(s, "frozen");
    const cc_ynode *d = cc_y_get(t, "data"), *o = cc_y_get(t, "optimizer"),
                   *l = cc_y_get(t, "loss"), *a = cc_y_get(t, "augment");
    char dir[1024];
    if (cc_y_expect(d, CC_Y_MAP, "data", e) || cc_y_check_keys(d, dkeys, e) ||
        path_key(c, d, "dir", 0, dir, sizeof dir, e))
        return -1;
    if (!cc_y_get(d, "dir")) snprintf(dir, sizeof dir, "%s", c->source_dir);
    if (data_dir) snprintf(dir, sizeof dir, "%s", data_dir);
    if (file_list(dir, cc_y_get(d, "train"), "data.train", c->train_files, &c->n_train, e) ||
        file_list(dir, cc_y_get(d, "validation"), "data.validation", c->val_files, &c->n_val, e))
        return -1;
    s = NULL;
    if (cc_y_str(d, "group", 0, &s, e)) return -1;
    if (s) snprintf(c->group, sizeof c->group, "%s", s);
    i64 = 0;
    if (cc_y_i64(d, "max_per_file", 0, 0, INT64_MAX, &i64, e)) return -1;
    c->max_per_file = (uint64_t)i64;
    for (size_t i = 0; i < c->n_train; i++)
        for (size_t j = 0; j < c->n_val; j++)
            if (!strcmp(c->train_files[i], c->val_files[j]))
                return cc_y_err(e, d,
                                "data: %s is both a training and a validation file (the split "
                                "is by file)",
                                c->train_files[i]);
    s = NULL;
    if (o && (cc_y_expect(o, CC_Y_MAP, "optimizer", e) || cc_y_check_keys(o, okeys, e) ||
              cc_y_f64(o, "lr", 0, 0, 1, &c->lr, e) ||
              cc_y_f64(o, "beta1", 0, 0, 0.999999, &c->beta1, e) ||
              cc_y_f64(o, "beta2", 0, 0, 0.999999999, &c->beta2, e) ||
              cc_y_f64(o, "eps", 0, 1e-20, 1, &c->eps, e) ||
              cc_y_f64(o, "lr_min", 0, 0, 1, &c->lr_min, e) ||
              cc_y_f64(o, "ema", 0, 0, 0.999999, &c->ema, e) || cc_y_str(o, "schedule", 0, &s, e)))
        return -1;
    if (o && s && strcmp(s, "constant") && strcmp(s, "cosine"))
        return cc_y_err(e, cc_y_get(o, "schedule"),
                        "optimizer.schedule: expected constant or cosine, found '%s'", s);
    if (o && s) c->cosine = !strcmp(s, "cosine");
    s = NULL;
    if (l && (cc_y_expect(l, CC_Y_MAP, "loss", e) || cc_y_check_keys(l, lkeys, e) ||
              cc_y_bool(l, "balance", 0, &c->balance, e)))
        return -1;
    if (a) {
        if (cc_y_expect(a, CC_Y_MAP, "augment", e) || cc_y_check_keys(a, akeys, e) ||
            cc_y_f64(a, "pileup_p", 0, 0, 1, &c->pileup_p, e) ||
            cc_y_f64(a, "noise_p", 0, 0, 1, &c->noise_p, e) ||
            u32_key(a, "shift_max", 0, 100000, &c->shift_max, e))
            return -1;
        if (cc_y_range(a, "noise_sigma", 0, 10, &c->noise_lo, &c->noise_hi, e) ||
            cc_y_range(a, "pileup_ratio", 0, 1, &c->pileup_ratio_lo, &c->pileup_ratio_hi, e) ||
            cc_y_f64(a, "pileup_near", 0, 0, 1, &c->pileup_near, e) ||
            u32_key(a, "pileup_dt_min", 1, 100000, &c->pileup_dt_min, e) ||
            cc_y_range(a, "template_stretch", 0.25, 4, &c->tpl_stretch_lo, &c->tpl_stretch_hi, e))
            return -1;
    }
    if (!*c->checkpoint) snprintf(c->checkpoint, sizeof c->checkpoint, "%s.ckpt", c->output);
    return 0;
}

int cc_train_config_load(const char *path, const char *data_dir, cc_train_config *c, cc_err *e)
{
    cc_train_config_default(c);
    char *dup = strdup(path);
    if (!dup) return cc_err_set(e, "out of memory");
    snprintf(c->source_dir, sizeof c->source_dir, "%s", dirname(dup));
    free(dup);
    cc_ydoc *doc = cc_ydoc_load_file(path, e);
    if (!doc) return -1;
    static const char *const top[] = {"train", NULL};
    int rc = cc_y_expect(doc->root, CC_Y_MAP, "training config", e) ||
                     cc_y_check_keys(doc->root, top, e) ||
                     parse(c, cc_y_get(doc->root, "train"), data_dir, e)
                 ? -1
                 : 0;
    cc_ydoc_free(&doc);
    if (rc) cc_train_config_release(c);
    return rc;
}
