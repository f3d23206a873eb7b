/* data.c - training records and the augmentations applied when one is drawn.
 *
 * Records are read from Cait-layout HDF5 files 64 events at a time (lib/io),
 * channel after channel, preprocessed with lib/prep to the card's input
 * length and kept in memory as floats (2 KB per record at 512 bins). The
 * augmentations work on the preprocessed record, as Cait's do on the
 * downsampled one; see cc_train.h for the recipe.
 */
#include "train_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cc_h5.h"
#include "cc_preproc.h"
#include "cc_sim.h"

uint64_t tr_next(tr_rng *r)
{
    uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

double tr_uniform(tr_rng *r)
{
    return (double)(tr_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

double tr_gauss(tr_rng *r)
{
    double u = tr_uniform(r), v = tr_uniform(r);
    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * v);
}

size_t tr_below(tr_rng *r, size_t n)
{
    return n ? (size_t)(tr_uniform(r) * (double)n) : 0;
}

tr_rng tr_stream(uint64_t seed, uint64_t a, uint64_t b)
{
    tr_rng r = {seed ^ UINT64_C(0x7472616e)};
    r.s = tr_next(&r) ^ (a * UINT64_C(0x9e3779b97f4a7c15));
    r.s = tr_next(&r) ^ (b * UINT64_C(0xc2b2ae3d27d4eb4f));
    tr_next(&r);
    return r;
}

/* The file's standard events, preprocessed: tpl[c * len] for each channel c. */
static int load_templates(cc_h5_reader *r, const char *path, size_t len, float **tpl, cc_err *e)
{
    const cc_h5_info *in = cc_h5_reader_info(r);
    const size_t C = in->n_channels, S = in->n_samples;
    float *raw = malloc(C * S * sizeof *raw);
    *tpl = malloc(C * len * sizeof **tpl);
    int rc = raw && *tpl ? cc_h5_reader_get_stdevent(r, raw, e) : cc_err_set(e, "out of memory");
    if (rc > 0)
        rc = cc_err_set(e,
                        "%s: no /stdevent/event; the model takes each channel's standard event as "
                        "its second input (Cait's files carry it, `cryoclean sim` writes it)",
                        path);
    for (size_t c = 0; !rc && c < C; c++)
        if (cc_prep_record(raw + c * S, S, *tpl + c * len, len))
            rc = cc_err_set(e, "%s: /stdevent/event of channel %zu: not finite", path, c);
    free(raw);
    return rc;
}

static int load_file(tr_file *f, const char *path, const char *group, size_t len, size_t ch,
                     uint64_t max, cc_err *e)
{
    cc_h5_reader *r = cc_h5_reader_open(path, group, e);
    if (!r) return -1;
    const cc_h5_info *in = cc_h5_reader_info(r);
    int rc = 0;
    float *tpl = NULL;
    if (!(in->fields & CC_H5_LABELS)) {
        rc = cc_err_set(e, "%s: group '%s' has no labels (training needs labelled records)", path,
                        group);
        goto out;
    }
    if (in->n_samples < len) {
        rc = cc_err_set(e, "%s: records of %u samples, shorter than the model's input %zu", path,
                        in->n_samples, len);
        goto out;
    }
    if (ch > 1 && (rc = load_templates(r, path, len, &tpl, e))) goto out;
    uint64_t total = in->n_events * in->n_channels;
    if (max && total > max) total = max;
    const uint32_t C = in->n_channels, S = in->n_samples, K = 64;
    const size_t X = ch * len; /* a record's stride: the record, then its standard event */
    f->x = malloc(total * X * sizeof *f->x);
    f->label = malloc(total ? total : 1);
    f->cls = malloc(total ? total : 1);
    cc_h5_batch b = {.k = K};
    b.event = malloc((size_t)C * K * S * sizeof *b.event);
    b.labels = malloc((size_t)C * K * sizeof *b.labels);
    if (!f->x || !f->label || !f->cls || !b.event || !b.labels) {
        rc = cc_err_set(e, "%s: out of memory for %llu records", path, (unsigned long long)total);
        goto done;
    }
    for (uint64_t first = 0; first < in->n_events && f->n < total; first += K) {
        b.k = (uint32_t)(in->n_events - first < K ? in->n_events - first : K);
        if (cc_h5_reader_read(r, first, &b, e)) {
            rc = -1;
            break;
        }
        for (uint32_t i = 0; i < b.k && f->n < total; i++)
            for (uint32_t c = 0; c < C && f->n < total; c++) {
                int lab = b.labels[c * b.k + i], acc = lab > 0 ? cc_sim_class_accept(lab) : -1;
                float *dst = f->x + f->n * X;
                if (acc < 0 || cc_prep_record(b.event + ((size_t)c * b.k + i) * S, S, dst, len)) {
                    f->n_skipped++;
                    continue;
                }
                if (tpl) memcpy(dst + len, tpl + (size_t)c * len, len * sizeof *dst);
                f->label[f->n] = (uint8_t)acc, f->cls[f->n] = (uint8_t)lab;
                f->n_clean += (size_t)acc;
                f->n++;
            }
    }
done:
    free(b.event);
    free(b.labels);
out:
    free(tpl);
    cc_h5_reader_close(&r);
    if (!rc && !f->n) rc = cc_err_set(e, "%s: no labelled records of known classes", path);
    return rc;
}

int tr_set_load(tr_set *s, char *const *paths, size_t n, const char *group, size_t len, size_t ch,
                uint64_t max, cc_err *e)
{
    memset(s, 0, sizeof *s);
    if (!(s->f = calloc(n ? n : 1, sizeof *s->f))) return cc_err_set(e, "out of memory");
    for (size_t i = 0; i < n; i++) {
        tr_file *f = &s->f[s->nf++];
        if (!(f->path = strdup(paths[i]))) return cc_err_set(e, "out of memory");
        if (load_file(f, paths[i], group, len, ch, max, e)) return -1;
        s->n += f->n;
    }
    return 0;
}

void tr_set_free(tr_set *s)
{
    for (size_t i = 0; i < s->nf; i++) {
        free(s->f[i].path);
        free(s->f[i].x);
        free(s->f[i].label);
        free(s->f[i].cls);
    }
    free(s->f);
    memset(s, 0, sizeof *s);
}

void tr_stretch_template(const float *tpl, size_t len, double f, float *out)
{
    const double t0 = (double)(len / 4);
    for (size_t j = 0; j < len; j++) {
        double u = t0 + ((double)j - t0) / f;
        if (u <= 0) {
            out[j] = tpl[0];
            continue;
        }
        size_t i = (size_t)u;
        double w = u - (double)i;
        out[j] = i + 1 < len ? (float)((1 - w) * tpl[i] + w * tpl[i + 1]) : tpl[len - 1];
    }
    cc_prep_minmax(out, len);
}

int tr_pileup_class(uint8_t cls)
{
    return cls == CC_SIM_EVENT || cls == CC_SIM_TESTPULSE;
}

static void minmax(float *x, size_t n)
{
    cc_prep_minmax(x, n);
}

void tr_augment(const cc_train_config *c, tr_rng *r, const float *x, uint8_t label, uint8_t cls,
                size_t len, float *out, uint8_t *out_label)
{
    /* draw all variates in a fixed order so the stream does not depend on
     * which branches are taken */
    const double u_pile = tr_uniform(r), u_dt = tr_uniform(r), u_noise = tr_uniform(r);
    const double u_sig = tr_uniform(r), u_shift = tr_uniform(r);
    const double u_near = tr_uniform(r), u_ratio = tr_uniform(r);
    const uint64_t noise_key = tr_next(r);
    float tmp[8192];
    float *y = len <= 8192 ? tmp : out;
    int rescale = 0;
    memcpy(y, x, len * sizeof *y);
    *out_label = label;
    if (label && tr_pileup_class(cls) && u_pile < c->pileup_p && len > 4) {
        /* onset difference in bins over [dt_min, 3L/4]: uniform, or log-uniform
         * (close pile-up, the hard case) with probability pileup_near */
        const double dmax = (double)(3 * len / 4);
        const double dmin = c->pileup_dt_min < dmax ? (double)c->pileup_dt_min : dmax;
        size_t dt = u_near < c->pileup_near ? (size_t)(dmin * exp(u_dt * log(dmax / dmin)))
                                            : (size_t)(dmin + u_dt * (dmax - dmin + 1));
        if (dt < (size_t)dmin) dt = (size_t)dmin;
        if (dt > 3 * len / 4) dt = 3 * len / 4;
        const float g =
            (float)(c->pileup_ratio_lo + (c->pileup_ratio_hi - c->pileup_ratio_lo) * u_ratio);
        for (size_t j = len; j-- > dt;) y[j] += g * (x[j - dt] - x[0]);
        *out_label = 0, rescale = 1;
    }
    if (u_noise < c->noise_p) {
        tr_rng nr = {noise_key};
        const double sig = c->noise_lo + (c->noise_hi - c->noise_lo) * u_sig;
        for (size_t j = 0; j < len; j++) y[j] += (float)(sig * tr_gauss(&nr));
        rescale = 1;
    }
    if (rescale) minmax(y, len);
    const long smax = (long)c->shift_max;
    const long s = smax ? (long)(u_shift * (double)(2 * smax + 1)) - smax : 0;
    if (y == out) { /* long records: shift in place through a second pass */
        if (s > 0)
            for (size_t j = len; j-- > 0;) out[j] = out[j >= (size_t)s ? j - (size_t)s : 0];
        else if (s < 0)
            for (size_t j = 0; j < len; j++)
                out[j] = out[j + (size_t)-s < len ? j + (size_t)-s : len - 1];
        return;
    }
    for (size_t j = 0; j < len; j++) {
        long k = (long)j - s;
        out[j] = y[k < 0 ? 0 : k >= (long)len ? (long)len - 1 : k];
    }
}
