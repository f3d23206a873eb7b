/* h5.c - Cait-layout HDF5 writer and streaming reader (see cc_h5.h).
 *
 * Writer: one file, up to 8 groups created lazily; each group holds its
 * datasets with an unlimited event axis, extended by every append and
 * written with one hyperslab per dataset. Reader: datasets are opened once
 * and validated; reads select [first, first+k) on the event axis.
 */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_h5.h"
#include "h5slab.h"

#define MAX_GROUPS 8
#define MAX_LABELS 64

/* the optional per-channel datasets: name, flag, HDF5 file type, memory type */
typedef struct {
    const char *name;
    unsigned flag;
    int is_int;
} dsdef;
static const dsdef per_ch[] = {
    {"labels", CC_H5_LABELS, 1},
    {"true_ph", CC_H5_TRUE_PH, 0},
    {"true_onset", CC_H5_TRUE_ONSET, 0},
    {"true_snr", CC_H5_TRUE_SNR, 0},
    {"true_npulses", CC_H5_TRUE_NPULSES, 1},
};
#define N_PER_CH (sizeof per_ch / sizeof per_ch[0])

static void *batch_array(const cc_h5_batch *b, size_t i)
{
    switch (i) {
    case 0:
        return b->labels;
    case 1:
        return b->true_ph;
    case 2:
        return b->true_onset;
    case 3:
        return b->true_snr;
    default:
        return b->true_npulses;
    }
}

typedef struct gstream {
    char name[64];
    hid_t g, ev, hours, ts, tmus, pc[N_PER_CH];
    uint64_t n;
} gstream;

struct cc_h5_writer {
    char *path;
    hid_t f;
    uint32_t nch, ns;
    unsigned fields;
    gstream gs[MAX_GROUPS];
    int ngs;
    uint32_t *ids;
    double fs;
    uint32_t trig;
    size_t nlab;
    int lab_id[MAX_LABELS];
    char *lab_name[MAX_LABELS];
};

static int h5fail(cc_err *e, const char *path, const char *what)
{
    return cc_err_set(e, "%s: HDF5: %s failed", path, what);
}

cc_h5_writer *cc_h5_writer_new(const char *path, uint32_t n_channels, uint32_t n_samples,
                               unsigned fields, cc_err *e)
{
    if (n_channels < 1 || n_channels > 4096 || n_samples < 1 || n_samples > (1u << 24)) {
        cc_err_set(e, "%s: expected 1..4096 channels and 1..16777216 samples, found %u x %u", path,
                   n_channels, n_samples);
        return NULL;
    }
    cc_h5_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        cc_err_set(e, "%s: out of memory", path);
        return NULL;
    }
    w->nch = n_channels, w->ns = n_samples, w->fields = fields & CC_H5_ALL;
    w->trig = n_samples / 4;
    H5E_BEGIN_TRY
    {
        w->f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    }
    H5E_END_TRY;
    if (w->f < 0) {
        cc_err_set(e, "%s: cannot create the HDF5 file (directory missing or not writable?)", path);
        free(w->path);
        free(w);
        return NULL;
    }
    return w;
}

int cc_h5_writer_set_meta(cc_h5_writer *w, const uint32_t *ids, double fs, uint32_t trig, cc_err *e)
{
    if (w->ngs) return cc_err_set(e, "%s: set_meta after the first append", w->path);
    free(w->ids);
    w->ids = NULL;
    if (ids) {
        if (!(w->ids = malloc(sizeof(uint32_t) * w->nch))) return cc_err_set(e, "out of memory");
        memcpy(w->ids, ids, sizeof(uint32_t) * w->nch);
    }
    w->fs = fs, w->trig = trig;
    return 0;
}

int cc_h5_writer_set_label_names(cc_h5_writer *w, size_t n, const int *ids,
                                 const char *const *names, cc_err *e)
{
    if (w->ngs) return cc_err_set(e, "%s: set_label_names after the first append", w->path);
    if (n > MAX_LABELS) return cc_err_set(e, "%s: at most %d label names", w->path, MAX_LABELS);
    for (size_t i = 0; i < w->nlab; i++) free(w->lab_name[i]);
    w->nlab = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(w->lab_name[i] = strdup(names[i]))) return cc_err_set(e, "out of memory");
        w->lab_id[i] = ids[i];
        w->nlab++;
    }
    return 0;
}

/* chunked dataset with an unlimited event axis (axis 0 for 1-D, 1 otherwise) */
static hid_t mk_ds(hid_t g, const char *name, hid_t type, int rank, const hsize_t *dims,
                   const hsize_t *chunk)
{
    hsize_t cur[3], max[3];
    for (int i = 0; i < rank; i++) cur[i] = dims[i], max[i] = dims[i];
    max[rank == 1 ? 0 : 1] = H5S_UNLIMITED;
    hid_t sp = H5Screate_simple(rank, cur, max), cp = H5Pcreate(H5P_DATASET_CREATE);
    hid_t ap = H5Pcreate(H5P_DATASET_ACCESS);
    H5Pset_chunk(cp, rank, chunk);
    H5Pset_chunk_cache(ap, 1031, 32u << 20, 1.0);
    hid_t d = H5Dcreate2(g, name, type, sp, H5P_DEFAULT, cp, ap);
    H5Sclose(sp), H5Pclose(cp), H5Pclose(ap);
    return d;
}

static int attr_write(hid_t obj, const char *name, hid_t type, hsize_t n, const void *v)
{
    hid_t sp = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, type, v) < 0 ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

static hid_t open_or_create_group(hid_t f, const char *name)
{
    hid_t g;
    H5E_BEGIN_TRY
    {
        g = H5Gopen2(f, name, H5P_DEFAULT);
    }
    H5E_END_TRY;
    if (g < 0) g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    return g;
}

static gstream *stream_for(cc_h5_writer *w, const char *group, cc_err *e)
{
    for (int i = 0; i < w->ngs; i++)
        if (!strcmp(w->gs[i].name, group)) return &w->gs[i];
    if (w->ngs == MAX_GROUPS || strlen(group) >= 64 || !*group) {
        cc_err_set(e, "%s: cannot add group '%s' (at most %d groups, names < 64 bytes)", w->path,
                   group, MAX_GROUPS);
        return NULL;
    }
    gstream *s = &w->gs[w->ngs];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", group);
    s->g = open_or_create_group(w->f, group);
    if (s->g < 0) {
        h5fail(e, w->path, "creating a group");
        return NULL;
    }
    w->ngs++;
    uint32_t cev = (1u << 18) / w->ns;
    if (cev < 1) cev = 1;
    if (cev > 4096) cev = 4096;
    hsize_t d3[3] = {w->nch, 0, w->ns}, c3[3] = {1, cev, w->ns};
    hsize_t d1[1] = {0}, c1[1] = {4096}, d2[2] = {w->nch, 0}, c2[2] = {w->nch, 1024};
    s->ev = mk_ds(s->g, "event", H5T_IEEE_F32LE, 3, d3, c3);
    s->hours = s->ts = s->tmus = -1;
    for (size_t i = 0; i < N_PER_CH; i++) s->pc[i] = -1;
    if (w->fields & CC_H5_TIME) {
        s->hours = mk_ds(s->g, "hours", H5T_IEEE_F64LE, 1, d1, c1);
        s->ts = mk_ds(s->g, "time_s", H5T_STD_I64LE, 1, d1, c1);
        s->tmus = mk_ds(s->g, "time_mus", H5T_STD_I32LE, 1, d1, c1);
    }
    for (size_t i = 0; i < N_PER_CH; i++)
        if (w->fields & per_ch[i].flag)
            s->pc[i] = mk_ds(s->g, per_ch[i].name,
                             per_ch[i].is_int ? H5T_STD_I32LE : H5T_IEEE_F64LE, 2, d2, c2);
    if (s->ev < 0 || ((w->fields & CC_H5_TIME) && (s->hours < 0 || s->ts < 0 || s->tmus < 0))) {
        h5fail(e, w->path, "creating datasets");
        return NULL;
    }
    for (size_t i = 0; i < N_PER_CH; i++)
        if ((w->fields & per_ch[i].flag) && s->pc[i] < 0) {
            h5fail(e, w->path, "creating datasets");
            return NULL;
        }
    int32_t *ids = malloc(sizeof(int32_t) * w->nch);
    if (!ids) {
        cc_err_set(e, "out of memory");
        return NULL;
    }
    for (uint32_t c = 0; c < w->nch; c++) ids[c] = w->ids ? (int32_t)w->ids[c] : (int32_t)c;
    int32_t trig = (int32_t)w->trig;
    int rc = attr_write(s->g, "channel_ids", H5T_NATIVE_INT32, w->nch, ids) ||
             attr_write(s->g, "trigger_index", H5T_NATIVE_INT32, 0, &trig) ||
             (w->fs > 0 && attr_write(s->g, "sample_rate_hz", H5T_NATIVE_DOUBLE, 0, &w->fs));
    free(ids);
    if (s->pc[0] >= 0)
        for (size_t i = 0; i < w->nlab && !rc; i++)
            rc = attr_write(s->pc[0], w->lab_name[i], H5T_NATIVE_INT32, 0, &w->lab_id[i]);
    if (rc) {
        h5fail(e, w->path, "writing attributes");
        return NULL;
    }
    return s;
}

/* extends d along the event axis to n1 and writes buf (memory type mt) into
 * [n0, n1); rows > 0 for (rows, events[, cols]) datasets */
static int put(hid_t d, hid_t mt, int rank, uint32_t rows, uint64_t n0, uint32_t k, uint32_t cols,
               const void *buf)
{
    hsize_t dims[3] = {rows, n0 + k, cols};
    if (rank == 1) dims[0] = n0 + k;
    if (H5Dset_extent(d, dims) < 0) return -1;
    return cc_h5_slab(d, mt, rank, rows, n0, k, cols, (void *)buf, 1);
}

int cc_h5_writer_append(cc_h5_writer *w, const char *group, const cc_h5_batch *b, cc_err *e)
{
    if (!b->k) return 0;
    if (!b->event) return cc_err_set(e, "%s: append without event samples", w->path);
    gstream *s = stream_for(w, group, e);
    if (!s) return -1;
    uint32_t k = b->k;
    size_t npc = (size_t)w->nch * k;
    void *fill = NULL;
    int rc = put(s->ev, H5T_NATIVE_FLOAT, 3, w->nch, s->n, k, w->ns, b->event);
    if (!rc && (w->fields & CC_H5_TIME)) {
        if (!b->hours || !b->time_s || !b->time_mus) {
            fill = calloc(k, sizeof(double));
            if (!fill) return cc_err_set(e, "out of memory");
        }
        rc = put(s->hours, H5T_NATIVE_DOUBLE, 1, 0, s->n, k, 0,
                 b->hours ? (void *)b->hours : fill) ||
             put(s->ts, H5T_NATIVE_INT64, 1, 0, s->n, k, 0, b->time_s ? (void *)b->time_s : fill) ||
             put(s->tmus, H5T_NATIVE_INT32, 1, 0, s->n, k, 0,
                 b->time_mus ? (void *)b->time_mus : fill);
        free(fill);
        fill = NULL;
    }
    for (size_t i = 0; i < N_PER_CH && !rc; i++) {
        if (!(w->fields & per_ch[i].flag)) continue;
        const void *src = batch_array(b, i);
        if (!src) {
            fill = malloc(sizeof(double) * npc);
            if (!fill) return cc_err_set(e, "out of memory");
            if (per_ch[i].is_int)
                memset(fill, 0, sizeof(int32_t) * npc);
            else
                for (size_t j = 0; j < npc; j++) ((double *)fill)[j] = i == 2 ? NAN : 0.0;
            src = fill;
        }
        rc = put(s->pc[i], per_ch[i].is_int ? H5T_NATIVE_INT32 : H5T_NATIVE_DOUBLE, 2, w->nch, s->n,
                 k, 0, src);
        free(fill);
        fill = NULL;
    }
    if (rc)
        return cc_err_set(e, "%s: HDF5: writing %u events to group %s failed (disk full?)", w->path,
                          k, group);
    s->n += k;
    return 0;
}

int cc_h5_writer_put_2d(cc_h5_writer *w, const char *path, const float *data, uint32_t rows,
                        uint32_t cols, cc_err *e)
{
    char grp[256];
    const char *slash = strrchr(path, '/');
    hid_t g = w->f, gg = -1;
    if (slash) {
        size_t l = (size_t)(slash - path);
        if (l >= sizeof grp) return cc_err_set(e, "%s: dataset path too long", w->path);
        memcpy(grp, path, l);
        grp[l] = 0;
        if ((gg = open_or_create_group(w->f, grp)) < 0)
            return h5fail(e, w->path, "creating a group");
        g = gg;
    }
    hsize_t d[2] = {rows, cols};
    hid_t sp = H5Screate_simple(2, d, NULL);
    hid_t ds = H5Dcreate2(g, slash ? slash + 1 : path, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                          H5P_DEFAULT);
    int rc = ds < 0 || H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0;
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(sp);
    if (gg >= 0) H5Gclose(gg);
    return rc ? cc_err_set(e, "%s: HDF5: writing dataset %s failed", w->path, path) : 0;
}

uint64_t cc_h5_writer_count(const cc_h5_writer *w, const char *group)
{
    for (int i = 0; i < w->ngs; i++)
        if (!strcmp(w->gs[i].name, group)) return w->gs[i].n;
    return 0;
}

int cc_h5_writer_close(cc_h5_writer **wp, cc_err *e)
{
    if (!wp || !*wp) return 0;
    cc_h5_writer *w = *wp;
    int rc = 0;
    for (int i = 0; i < w->ngs; i++) {
        gstream *s = &w->gs[i];
        hid_t all[4 + N_PER_CH] = {s->ev, s->hours, s->ts, s->tmus};
        for (size_t j = 0; j < N_PER_CH; j++) all[4 + j] = s->pc[j];
        for (size_t j = 0; j < 4 + N_PER_CH; j++)
            if (all[j] >= 0) H5Dclose(all[j]);
        H5Gclose(s->g);
    }
    if (H5Fclose(w->f) < 0) rc = h5fail(e, w->path, "closing (flushing) the file");
    for (size_t i = 0; i < w->nlab; i++) free(w->lab_name[i]);
    free(w->ids);
    free(w->path);
    free(w);
    *wp = NULL;
    return rc;
}

/* ---- reader ---- */

struct cc_h5_reader {
    char *path, *group;
    hid_t f, g, ev, hours, ts, tmus, pc[N_PER_CH];
    cc_h5_info info;
};

void cc_h5_reader_close(cc_h5_reader **rp)
{
    if (!rp || !*rp) return;
    cc_h5_reader *r = *rp;
    hid_t all[4 + N_PER_CH] = {r->ev, r->hours, r->ts, r->tmus};
    for (size_t j = 0; j < N_PER_CH; j++) all[4 + j] = r->pc[j];
    for (size_t j = 0; j < 4 + N_PER_CH; j++)
        if (all[j] > 0) H5Dclose(all[j]);
    if (r->g > 0) H5Gclose(r->g);
    if (r->f > 0) H5Fclose(r->f);
    free(r->path);
    free(r->group);
    free(r);
    *rp = NULL;
}

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER:
        return "integer";
    case H5T_FLOAT:
        return "float";
    case H5T_STRING:
        return "string";
    case H5T_COMPOUND:
        return "compound";
    default:
        return "other";
    }
}

/* opens an optional dataset; checks rank, shape (dims[i] == want[i] unless
 * want[i] == 0) and numeric type. Returns 0 (absent: *d = -1) or -1. */
static int open_ds(cc_h5_reader *r, const char *name, int rank, const hsize_t *want, int numeric,
                   hid_t *d, hsize_t *dims, cc_err *e)
{
    *d = -1;
    /* the name as messages show it: group-relative, or absolute ("/stdevent/event") */
    char nm[256];
    snprintf(nm, sizeof nm, "%s%s%s", name[0] == '/' ? "" : r->group, name[0] == '/' ? "" : "/",
             name);
    htri_t ex;
    H5E_BEGIN_TRY
    {
        ex = H5Lexists(r->g, name, H5P_DEFAULT);
    }
    H5E_END_TRY;
    if (ex <= 0) return 0;
    H5E_BEGIN_TRY
    {
        *d = H5Dopen2(r->g, name, H5P_DEFAULT);
    }
    H5E_END_TRY;
    if (*d < 0)
        return cc_err_set(e, "%s: %s: expected a dataset, found another kind of object", r->path,
                          nm);
    hid_t t = H5Dget_type(*d), sp = H5Dget_space(*d);
    H5T_class_t cls = H5Tget_class(t);
    int rk = H5Sget_simple_extent_ndims(sp);
    hsize_t dd[8] = {0};
    if (rk > 0 && rk <= 8) H5Sget_simple_extent_dims(sp, dd, NULL);
    H5Tclose(t), H5Sclose(sp);
    if (cls != H5T_FLOAT && !(numeric && cls == H5T_INTEGER))
        return cc_err_set(e, "%s: %s: expected %s, found %s data", r->path, nm,
                          numeric ? "numbers" : "float32/float64", class_name(cls));
    if (rk != rank)
        return cc_err_set(e, "%s: %s: expected rank %d, found rank %d", r->path, nm, rank, rk);
    for (int i = 0; i < rank; i++)
        if (want[i] && dd[i] != want[i]) {
            char w[96] = "", f[96] = "";
            for (int j = 0; j < rank; j++) {
                snprintf(w + strlen(w), sizeof w - strlen(w), "%s%llu", j ? ", " : "",
                         (unsigned long long)want[j]);
                snprintf(f + strlen(f), sizeof f - strlen(f), "%s%llu", j ? ", " : "",
                         (unsigned long long)dd[j]);
            }
            return cc_err_set(e, "%s: %s: expected shape (%s), found (%s)", r->path, nm, w, f);
        }
    if (dims)
        for (int i = 0; i < rank; i++) dims[i] = dd[i];
    return 0;
}

static int attr_read(hid_t obj, const char *name, hid_t mt, size_t n, void *out)
{
    htri_t ex;
    H5E_BEGIN_TRY
    {
        ex = H5Aexists(obj, name);
    }
    H5E_END_TRY;
    if (ex <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t sp = H5Aget_space(a);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    int rc = -1;
    if (np >= 1 && (size_t)np <= n) {
        H5E_BEGIN_TRY
        {
            rc = H5Aread(a, mt, out) < 0 ? -1 : (int)np;
        }
        H5E_END_TRY;
    }
    H5Aclose(a);
    return rc;
}

cc_h5_reader *cc_h5_reader_open(const char *path, const char *group, cc_err *e)
{
    cc_h5_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path)) || !(r->group = strdup(group))) {
        if (r) free(r->path), free(r);
        cc_err_set(e, "out of memory");
        return NULL;
    }
    r->f = r->g = r->ev = r->hours = r->ts = r->tmus = -1;
    for (size_t i = 0; i < N_PER_CH; i++) r->pc[i] = -1;
    htri_t is;
    H5E_BEGIN_TRY
    {
        is = H5Fis_hdf5(path);
    }
    H5E_END_TRY;
    if (is <= 0) {
        cc_err_set(e, "%s: %s", path,
                   is < 0 ? "cannot open (missing or unreadable)" : "not an HDF5 file");
        goto fail;
    }
    H5E_BEGIN_TRY
    {
        r->f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    }
    H5E_END_TRY;
    if (r->f < 0) {
        cc_err_set(e, "%s: HDF5 cannot open the file", path);
        goto fail;
    }
    H5E_BEGIN_TRY
    {
        r->g = H5Gopen2(r->f, group, H5P_DEFAULT);
    }
    H5E_END_TRY;
    if (r->g < 0) {
        cc_err_set(e, "%s: no group '%s' (Cait files have events, noise, testpulses)", path, group);
        goto fail;
    }
    hsize_t d3[3], any3[3] = {0, 0, 0};
    if (open_ds(r, "event", 3, any3, 0, &r->ev, d3, e)) goto fail;
    if (r->ev < 0) {
        cc_err_set(e, "%s: %s/event: missing (expected float (channels, events, samples))", path,
                   group);
        goto fail;
    }
    if (d3[0] < 1 || d3[0] > 4096 || d3[2] < 1 || d3[2] > (1u << 24)) {
        cc_err_set(e,
                   "%s: %s/event: expected 1..4096 channels and 1..16777216 samples, found "
                   "shape (%llu, %llu, %llu)",
                   path, group, (unsigned long long)d3[0], (unsigned long long)d3[1],
                   (unsigned long long)d3[2]);
        goto fail;
    }
    cc_h5_info *in = &r->info;
    in->n_channels = (uint32_t)d3[0], in->n_events = d3[1], in->n_samples = (uint32_t)d3[2];
    hsize_t w1[1] = {d3[1]}, w2[2] = {d3[0], d3[1]};
    if (open_ds(r, "hours", 1, w1, 1, &r->hours, NULL, e) ||
        open_ds(r, "time_s", 1, w1, 1, &r->ts, NULL, e) ||
        open_ds(r, "time_mus", 1, w1, 1, &r->tmus, NULL, e))
        goto fail;
    if (r->hours >= 0 || r->ts >= 0) in->fields |= CC_H5_TIME;
    for (size_t i = 0; i < N_PER_CH; i++) {
        if (open_ds(r, per_ch[i].name, 2, w2, 1, &r->pc[i], NULL, e)) goto fail;
        if (r->pc[i] >= 0) in->fields |= per_ch[i].flag;
    }
    int32_t ids[64], trig;
    double fs;
    int nid = attr_read(r->g, "channel_ids", H5T_NATIVE_INT32, 64, ids);
    for (uint32_t c = 0; c < in->n_channels && c < 64; c++)
        in->channel_ids[c] = nid == (int)in->n_channels && ids[c] >= 0 ? (uint32_t)ids[c] : c;
    in->trigger_index = attr_read(r->g, "trigger_index", H5T_NATIVE_INT32, 1, &trig) == 1 &&
                                trig >= 0 && (uint32_t)trig < in->n_samples
                            ? (uint32_t)trig
                            : in->n_samples / 4;
    in->fs_hz =
        attr_read(r->g, "sample_rate_hz", H5T_NATIVE_DOUBLE, 1, &fs) == 1 && fs > 0 && isfinite(fs)
            ? fs
            : 0.0;
    return r;
fail:
    cc_h5_reader_close(&r);
    return NULL;
}

const cc_h5_info *cc_h5_reader_info(const cc_h5_reader *r)
{
    return &r->info;
}

int cc_h5_slab(hid_t d, hid_t mt, int rank, uint32_t rows, uint64_t first, uint32_t k,
               uint32_t cols, void *buf, int write)
{
    hsize_t start[3] = {0, 0, 0}, cnt[3];
    if (rank == 1)
        start[0] = first, cnt[0] = k;
    else {
        start[1] = first, cnt[0] = rows, cnt[1] = k;
        if (rank == 3) cnt[2] = cols;
    }
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(rank, cnt, NULL);
    int rc;
    H5E_BEGIN_TRY
    {
        rc = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
                     (write ? H5Dwrite(d, mt, ms, fs, H5P_DEFAULT, buf)
                            : H5Dread(d, mt, ms, fs, H5P_DEFAULT, buf)) < 0
                 ? -1
                 : 0;
    }
    H5E_END_TRY;
    H5Sclose(fs), H5Sclose(ms);
    return rc;
}

static int get(hid_t d, hid_t mt, int rank, uint32_t rows, uint64_t first, uint32_t k,
               uint32_t cols, void *buf)
{
    return cc_h5_slab(d, mt, rank, rows, first, k, cols, buf, 0);
}

int cc_h5_reader_read(cc_h5_reader *r, uint64_t first, cc_h5_batch *o, cc_err *e)
{
    const cc_h5_info *in = &r->info;
    uint32_t k = o->k;
    if (first > in->n_events || k > in->n_events - first)
        return cc_err_set(e, "%s: %s: events [%llu, %llu) requested, the file has %llu", r->path,
                          r->group, (unsigned long long)first, (unsigned long long)(first + k),
                          (unsigned long long)in->n_events);
    if (!k) return 0;
    size_t npc = (size_t)in->n_channels * k;
    const char *bad = NULL;
    if (o->event &&
        get(r->ev, H5T_NATIVE_FLOAT, 3, in->n_channels, first, k, in->n_samples, o->event))
        bad = "event";
    if (!bad && o->hours) {
        if (r->hours >= 0 ? get(r->hours, H5T_NATIVE_DOUBLE, 1, 0, first, k, 0, o->hours) : 0)
            bad = "hours";
        else if (r->hours < 0)
            memset(o->hours, 0, sizeof(double) * k);
    }
    if (!bad && o->time_s) {
        if (r->ts >= 0 ? get(r->ts, H5T_NATIVE_INT64, 1, 0, first, k, 0, o->time_s) : 0)
            bad = "time_s";
        else if (r->ts < 0)
            memset(o->time_s, 0, sizeof(int64_t) * k);
    }
    if (!bad && o->time_mus) {
        if (r->tmus >= 0 ? get(r->tmus, H5T_NATIVE_INT32, 1, 0, first, k, 0, o->time_mus) : 0)
            bad = "time_mus";
        else if (r->tmus < 0)
            memset(o->time_mus, 0, sizeof(int32_t) * k);
    }
    for (size_t i = 0; i < N_PER_CH && !bad; i++) {
        void *dst = batch_array(o, i);
        if (!dst) continue;
        hid_t mt = per_ch[i].is_int ? H5T_NATIVE_INT32 : H5T_NATIVE_DOUBLE;
        if (r->pc[i] >= 0) {
            if (get(r->pc[i], mt, 2, in->n_channels, first, k, 0, dst)) bad = per_ch[i].name;
        } else if (per_ch[i].is_int) {
            memset(dst, 0, sizeof(int32_t) * npc);
        } else {
            for (size_t j = 0; j < npc; j++) ((double *)dst)[j] = i == 2 ? NAN : 0.0;
        }
    }
    if (bad)
        return cc_err_set(e,
                          "%s: %s/%s: reading events [%llu, %llu) failed (corrupt file or "
                          "values out of range for the type)",
                          r->path, r->group, bad, (unsigned long long)first,
                          (unsigned long long)(first + k));
    return 0;
}

int cc_h5_reader_get_2d(cc_h5_reader *r, const char *name, float *out, cc_err *e)
{
    const cc_h5_info *in = &r->info;
    hsize_t want[2] = {in->n_channels, in->n_events};
    hid_t d;
    if (open_ds(r, name, 2, want, 1, &d, NULL, e)) {
        if (d >= 0) H5Dclose(d);
        return -1;
    }
    if (d < 0)
        return cc_err_set(e, "%s: %s/%s: missing (expected numbers (%u, %llu))", r->path, r->group,
                          name, in->n_channels, (unsigned long long)in->n_events);
    int rc = in->n_events > UINT32_MAX ? -1
             : in->n_events
                 ? get(d, H5T_NATIVE_FLOAT, 2, in->n_channels, 0, (uint32_t)in->n_events, 0, out)
                 : 0;
    H5Dclose(d);
    if (rc)
        return cc_err_set(e, "%s: %s/%s: reading failed (corrupt file or too many events)", r->path,
                          r->group, name);
    return 0;
}

int cc_h5_reader_get_stdevent(cc_h5_reader *r, float *out, cc_err *e)
{
    const cc_h5_info *in = &r->info;
    hsize_t want[2] = {in->n_channels, in->n_samples};
    hid_t d;
    if (open_ds(r, "/stdevent/event", 2, want, 0, &d, NULL, e)) {
        if (d >= 0) H5Dclose(d);
        return -1;
    }
    if (d < 0) return 1;
    int rc = get(d, H5T_NATIVE_FLOAT, 2, in->n_channels, 0, in->n_samples, 0, out);
    H5Dclose(d);
    if (rc) return cc_err_set(e, "%s: /stdevent/event: reading failed (corrupt file)", r->path);
    return 0;
}

int cc_h5_reader_label_id(cc_h5_reader *r, const char *name)
{
    if (r->pc[0] < 0) return -1;
    int32_t v;
    return attr_read(r->pc[0], name, H5T_NATIVE_INT32, 1, &v) == 1 ? v : -1;
}
