/* results.c - cleaning results beside the raw data, with a commit step
 * (see cc_clean.h for the layout and the protocol).
 *
 * The datasets are created at their final size, chunked along the event
 * axis, with fill values NaN (score) and 0 (the decisions): rows not
 * yet written read back as "unspecified". complete_events is rewritten and
 * the file flushed after every chunk, so an interrupted run leaves a file
 * that opens and says exactly which rows are final.
 */
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cc_clean.h"
#include "h5slab.h"

#define FINAL   "cryoclean"
#define PARTIAL "cryoclean.partial"

struct cc_clean_out {
    char *path, *group;
    char gpath[300]; /* current results group: <group>/cryoclean(.partial) */
    hid_t f, g, rg, score, accept, mod_accept, ev_accept;
    uint32_t nch;
    uint64_t nev, complete;
    int had_final;
};

static int h5err(cc_err *e, const char *path, const char *obj, const char *what)
{
    return cc_err_set(e, "%s: %s: HDF5: %s failed", path, obj, what);
}

static htri_t link_exists(hid_t loc, const char *name)
{
    htri_t ex;
    H5E_BEGIN_TRY
    {
        ex = H5Lexists(loc, name, H5P_DEFAULT);
    }
    H5E_END_TRY;
    return ex;
}

/* ---- attributes ---- */

static int attr_put(hid_t obj, const char *name, hid_t type, hsize_t n, const void *v)
{
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hid_t sp = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, type, v) < 0 ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

static hid_t vl_string_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

/* n == 0: a scalar string v[0]; else an array of n strings. */
static int attr_strings(hid_t obj, const char *name, size_t n, const char *const *v)
{
    hid_t t = vl_string_type();
    int rc = attr_put(obj, name, t, n, v);
    H5Tclose(t);
    return rc;
}

/* Reads a scalar string attribute into out (truncated); -1 if absent or not a string. */
static int attr_get_string(hid_t obj, const char *name, char *out, size_t len)
{
    int rc = -1;
    H5E_BEGIN_TRY
    {
        hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
        if (a >= 0) {
            hid_t ft = H5Aget_type(a), t = vl_string_type();
            char *s = NULL;
            if (H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0 &&
                H5Aread(a, t, &s) >= 0 && s) {
                snprintf(out, len, "%s", s);
                H5free_memory(s);
                rc = 0;
            }
            H5Tclose(t), H5Tclose(ft), H5Aclose(a);
        }
    }
    H5E_END_TRY;
    return rc;
}

static int attr_get_u64(hid_t obj, const char *name, uint64_t *v)
{
    int rc = -1;
    H5E_BEGIN_TRY
    {
        hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
        if (a >= 0) {
            rc = H5Aread(a, H5T_NATIVE_UINT64, v) < 0 ? -1 : 0;
            H5Aclose(a);
        }
    }
    H5E_END_TRY;
    return rc;
}

static void utc_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- the results group ---- */

/* Closes the datasets and the results group, and the data group if `group`. */
static void close_handles(cc_clean_out *o, int group)
{
    hid_t d[4] = {o->score, o->accept, o->mod_accept, o->ev_accept};
    for (int i = 0; i < 4; i++)
        if (d[i] >= 0) H5Dclose(d[i]);
    if (o->rg >= 0) H5Gclose(o->rg);
    o->score = o->accept = o->mod_accept = o->ev_accept = o->rg = -1;
    if (group && o->g >= 0) H5Gclose(o->g);
    if (group) o->g = -1;
}

static hid_t mk_ds(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                   const void *fill)
{
    hsize_t maxd[2] = {dims[0], H5S_UNLIMITED}, chunk[2];
    if (rank == 1) maxd[0] = H5S_UNLIMITED;
    uint64_t per = rank == 2 ? dims[0] : 1, ce = 65536 / per ? 65536 / per : 1;
    uint64_t nev = rank == 2 ? dims[1] : dims[0];
    if (nev && ce > nev) ce = nev;
    if (rank == 2)
        chunk[0] = dims[0], chunk[1] = ce;
    else
        chunk[0] = ce;
    hid_t sp = H5Screate_simple(rank, dims, maxd), pl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(pl, rank, chunk);
    H5Pset_fill_value(pl, type, fill);
    hid_t d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    H5Pclose(pl), H5Sclose(sp);
    return d;
}

static int describe(hid_t rg, const cc_clean_out *o, const cc_clean_desc *d, const char *src)
{
    char now[32];
    utc_now(now, sizeof now);
    const char *s1[1];
    int32_t *ids = malloc(2 * d->n_channels * sizeof *ids), *mods = ids + d->n_channels;
    if (!ids) return -1;
    for (uint32_t c = 0; c < d->n_channels; c++)
        ids[c] = (int32_t)d->channel_ids[c], mods[c] = (int32_t)d->module_ids[c];
    int rc = attr_strings(rg, "classifiers", d->n_channels, d->classifier) ||
             attr_strings(rg, "models", d->n_channels, d->model) ||
             attr_put(rg, "cutoffs", H5T_NATIVE_FLOAT, d->n_channels, d->cutoff) ||
             attr_put(rg, "channel_ids", H5T_NATIVE_INT32, d->n_channels, ids) ||
             attr_put(rg, "module_ids", H5T_NATIVE_INT32, d->n_channels, mods) ||
             attr_strings(rg, "modules", 0, (s1[0] = d->module_rule, s1)) ||
             attr_strings(rg, "settings", 0, (s1[0] = d->settings, s1)) ||
             attr_strings(rg, "source_file", 0, (s1[0] = src, s1)) ||
             attr_strings(rg, "source_group", 0, (s1[0] = o->group, s1)) ||
             attr_strings(rg, "cryoclean_version", 0, (s1[0] = d->version, s1)) ||
             attr_strings(rg, "created", 0, (s1[0] = now, s1)) ||
             attr_put(rg, "n_events", H5T_NATIVE_UINT64, 0, &d->n_events) ||
             attr_put(rg, "complete_events", H5T_NATIVE_UINT64, 0, &o->complete);
    free(ids);
    return rc ? -1 : 0;
}

static int open_datasets(cc_clean_out *o, cc_err *e)
{
    H5E_BEGIN_TRY
    {
        o->score = H5Dopen2(o->rg, "score", H5P_DEFAULT);
        o->accept = H5Dopen2(o->rg, "accept", H5P_DEFAULT);
        o->mod_accept = H5Dopen2(o->rg, "module_accept", H5P_DEFAULT);
        o->ev_accept = H5Dopen2(o->rg, "event_accept", H5P_DEFAULT);
    }
    H5E_END_TRY;
    if (o->score < 0 || o->accept < 0 || o->mod_accept < 0 || o->ev_accept < 0)
        return cc_err_set(e, "%s: %s: expected datasets score, accept, module_accept, event_accept",
                          o->path, o->gpath);
    return 0;
}

static int create_partial(cc_clean_out *o, const cc_clean_desc *d, const char *src, cc_err *e)
{
    snprintf(o->gpath, sizeof o->gpath, "%s/%s", o->group, PARTIAL);
    o->rg = H5Gcreate2(o->g, PARTIAL, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (o->rg < 0) return h5err(e, o->path, o->gpath, "creating the group");
    hsize_t d2[2] = {d->n_channels, d->n_events}, d1[1] = {d->n_events};
    float nan = NAN;
    uint8_t zero = 0;
    o->score = mk_ds(o->rg, "score", H5T_NATIVE_FLOAT, 2, d2, &nan);
    o->accept = mk_ds(o->rg, "accept", H5T_NATIVE_UINT8, 2, d2, &zero);
    o->mod_accept = mk_ds(o->rg, "module_accept", H5T_NATIVE_UINT8, 2, d2, &zero);
    o->ev_accept = mk_ds(o->rg, "event_accept", H5T_NATIVE_UINT8, 1, d1, &zero);
    if (o->score < 0 || o->accept < 0 || o->mod_accept < 0 || o->ev_accept < 0)
        return h5err(e, o->path, o->gpath, "creating the datasets");
    if (describe(o->rg, o, d, src)) return h5err(e, o->path, o->gpath, "writing the attributes");
    return 0;
}

/* Resumes a partial group with the same settings and shape (*ok = 1), or
 * deletes it. */
static int try_resume(cc_clean_out *o, const cc_clean_desc *d, int *ok, cc_err *e)
{
    char settings[1024] = "";
    uint64_t nev = 0, done = 0;
    *ok = 0;
    o->rg = H5Gopen2(o->g, PARTIAL, H5P_DEFAULT);
    if (o->rg >= 0 && !attr_get_string(o->rg, "settings", settings, sizeof settings) &&
        !strcmp(settings, d->settings) && !attr_get_u64(o->rg, "n_events", &nev) &&
        nev == d->n_events && !attr_get_u64(o->rg, "complete_events", &done) && done <= nev) {
        snprintf(o->gpath, sizeof o->gpath, "%s/%s", o->group, PARTIAL);
        hsize_t dims[2] = {0, 0};
        if (!open_datasets(o, e)) {
            hid_t sp = H5Dget_space(o->score);
            H5Sget_simple_extent_dims(sp, dims, NULL);
            H5Sclose(sp);
            if (dims[0] == d->n_channels && dims[1] == d->n_events) {
                o->complete = done;
                *ok = 1;
                return 0;
            }
        }
    }
    close_handles(o, 0);
    if (H5Ldelete(o->g, PARTIAL, H5P_DEFAULT) < 0)
        return h5err(e, o->path, PARTIAL, "deleting stale partial results");
    return 0;
}

/* Copies the event-axis bookkeeping of the input group into the output group. */
static int copy_context(const char *in_path, const char *group, hid_t og, cc_err *e)
{
    static const char *const names[] = {"hours", "time_s", "time_mus", "labels"};
    hid_t f, g = -1;
    H5E_BEGIN_TRY
    {
        f = H5Fopen(in_path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (f >= 0) g = H5Gopen2(f, group, H5P_DEFAULT);
    }
    H5E_END_TRY;
    int rc = 0;
    if (g < 0) rc = cc_err_set(e, "%s: cannot open group '%s' to copy its times", in_path, group);
    for (size_t i = 0; !rc && i < sizeof names / sizeof *names; i++)
        if (link_exists(g, names[i]) > 0 &&
            H5Ocopy(g, names[i], og, names[i], H5P_DEFAULT, H5P_DEFAULT) < 0)
            rc = h5err(e, in_path, names[i], "copying");
    static const char *const attrs[] = {"channel_ids", "module_ids", "sample_rate_hz",
                                        "trigger_index"};
    for (size_t i = 0; !rc && i < sizeof attrs / sizeof *attrs; i++) {
        if (H5Aexists(g, attrs[i]) <= 0) continue;
        hid_t a = H5Aopen(g, attrs[i], H5P_DEFAULT), t = H5Aget_type(a), sp = H5Aget_space(a);
        hssize_t np = H5Sget_simple_extent_npoints(sp);
        int nd = H5Sget_simple_extent_ndims(sp);
        void *buf =
            np > 0 && H5Tget_class(t) != H5T_STRING ? calloc((size_t)np, H5Tget_size(t)) : NULL;
        if (buf && H5Aread(a, t, buf) >= 0)
            rc = attr_put(og, attrs[i], t, nd ? (hsize_t)np : 0, buf)
                     ? h5err(e, in_path, attrs[i], "copying attribute")
                     : 0;
        free(buf);
        H5Sclose(sp), H5Tclose(t), H5Aclose(a);
    }
    if (g >= 0) H5Gclose(g);
    if (f >= 0) H5Fclose(f);
    return rc;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Opens or creates the output file; *fresh = 1 when it was (re)created. */
static hid_t open_file(const char *in_path, const char *out_path, int force, int *fresh, cc_err *e)
{
    hid_t f = -1;
    *fresh = 0;
    if (!out_path) {
        H5E_BEGIN_TRY
        {
            f = H5Fopen(in_path, H5F_ACC_RDWR, H5P_DEFAULT);
        }
        H5E_END_TRY;
        if (f < 0)
            cc_err_set(e,
                       "%s: HDF5 cannot open the file read-write (permissions, or another "
                       "program has it open?); use --out NEW.h5 to write the results elsewhere",
                       in_path);
        return f;
    }
    if (same_file(in_path, out_path)) {
        cc_err_set(e, "%s: --out names the input file; omit --out to write in place", out_path);
        return -1;
    }
    htri_t is = -1;
    if (access(out_path, F_OK) == 0) {
        H5E_BEGIN_TRY
        {
            is = H5Fis_hdf5(out_path);
        }
        H5E_END_TRY;
        if (is <= 0 && !force) {
            cc_err_set(e, "%s: exists and is not an HDF5 file; remove it or pass --force",
                       out_path);
            return -1;
        }
    }
    H5E_BEGIN_TRY
    {
        if (is > 0 && !force) f = H5Fopen(out_path, H5F_ACC_RDWR, H5P_DEFAULT);
        if (f < 0 && (is <= 0 || force)) {
            f = H5Fcreate(out_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
            *fresh = f >= 0;
        }
    }
    H5E_END_TRY;
    if (f < 0) cc_err_set(e, "%s: HDF5 cannot open or create the file for writing", out_path);
    return f;
}

cc_clean_out *cc_clean_out_open(const char *in_path, const char *group, const char *out_path,
                                const cc_clean_desc *d, int force, uint64_t *resume, cc_err *e)
{
    cc_clean_out *o = calloc(1, sizeof *o);
    const char *path = out_path ? out_path : in_path;
    if (!o || !(o->path = strdup(path)) || !(o->group = strdup(group))) {
        if (o) free(o->path), free(o);
        cc_err_set(e, "out of memory");
        return NULL;
    }
    o->f = o->g = o->rg = o->score = o->accept = o->mod_accept = o->ev_accept = -1;
    o->nch = d->n_channels, o->nev = d->n_events;
    int fresh;
    if ((o->f = open_file(in_path, out_path, force, &fresh, e)) < 0) goto fail;
    if (link_exists(o->f, group) > 0)
        o->g = H5Gopen2(o->f, group, H5P_DEFAULT);
    else if (out_path)
        o->g = H5Gcreate2(o->f, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (o->g < 0) {
        cc_err_set(e, "%s: no group '%s'", path, group);
        goto fail;
    }
    if (fresh && copy_context(in_path, group, o->g, e)) goto fail;
    o->had_final = link_exists(o->g, FINAL) > 0;
    if (o->had_final && !force) {
        char when[64] = "?";
        hid_t fg = H5Gopen2(o->g, FINAL, H5P_DEFAULT);
        if (fg >= 0) attr_get_string(fg, "created", when, sizeof when), H5Gclose(fg);
        cc_err_set(e,
                   "%s: %s/%s: results already present (created %s); pass --force to replace "
                   "them or --out NEW.h5",
                   path, group, FINAL, when);
        goto fail;
    }
    int resumed = 0;
    if (link_exists(o->g, PARTIAL) > 0 && try_resume(o, d, &resumed, e)) goto fail;
    if (!resumed && create_partial(o, d, in_path, e)) goto fail;
    if (H5Fflush(o->f, H5F_SCOPE_LOCAL) < 0) {
        h5err(e, path, o->gpath, "flushing");
        goto fail;
    }
    *resume = o->complete;
    return o;
fail:
    close_handles(o, 1);
    if (o->f >= 0) H5Fclose(o->f);
    free(o->path), free(o->group), free(o);
    return NULL;
}

static int put(hid_t d, hid_t mt, int rank, uint32_t rows, uint64_t first, uint32_t k,
               const void *buf)
{
    return cc_h5_slab(d, mt, rank, rows, first, k, 0, (void *)buf, 1);
}

int cc_clean_out_write(cc_clean_out *o, uint64_t first, uint32_t k, const float *score,
                       const uint8_t *accept, const uint8_t *module_accept,
                       const uint8_t *event_accept, cc_err *e)
{
    if (first > o->nev || k > o->nev - first)
        return cc_err_set(e, "%s: %s: events [%llu, %llu) outside the %llu of the results", o->path,
                          o->gpath, (unsigned long long)first, (unsigned long long)(first + k),
                          (unsigned long long)o->nev);
    if (!k) return 0;
    if (put(o->score, H5T_NATIVE_FLOAT, 2, o->nch, first, k, score) ||
        put(o->accept, H5T_NATIVE_UINT8, 2, o->nch, first, k, accept) ||
        put(o->mod_accept, H5T_NATIVE_UINT8, 2, o->nch, first, k, module_accept) ||
        put(o->ev_accept, H5T_NATIVE_UINT8, 1, 0, first, k, event_accept))
        return cc_err_set(e, "%s: %s: writing events [%llu, %llu) failed (disk full?)", o->path,
                          o->gpath, (unsigned long long)first, (unsigned long long)(first + k));
    return 0;
}

int cc_clean_out_mark(cc_clean_out *o, uint64_t complete, cc_err *e)
{
    hid_t a;
    H5E_BEGIN_TRY
    {
        a = H5Aopen(o->rg, "complete_events", H5P_DEFAULT);
    }
    H5E_END_TRY;
    int bad = a < 0 || H5Awrite(a, H5T_NATIVE_UINT64, &complete) < 0;
    if (a >= 0) H5Aclose(a);
    if (bad || H5Fflush(o->f, H5F_SCOPE_LOCAL) < 0)
        return h5err(e, o->path, o->gpath, "recording complete_events");
    o->complete = complete;
    return 0;
}

int cc_clean_out_commit(cc_clean_out *o, cc_err *e)
{
    if (o->complete != o->nev)
        return cc_err_set(e, "%s: %s: %llu of %llu events complete; not committing", o->path,
                          o->gpath, (unsigned long long)o->complete, (unsigned long long)o->nev);
    hid_t g = o->g;
    close_handles(o, 0);
    int rc = 0;
    if (link_exists(g, FINAL) > 0 && H5Ldelete(g, FINAL, H5P_DEFAULT) < 0)
        rc = h5err(e, o->path, FINAL, "deleting the old results");
    if (!rc && H5Lmove(g, PARTIAL, g, FINAL, H5P_DEFAULT, H5P_DEFAULT) < 0)
        rc = h5err(e, o->path, o->gpath, "renaming to " FINAL);
    if (!rc) snprintf(o->gpath, sizeof o->gpath, "%s/%s", o->group, FINAL);
    if (!rc && H5Fflush(o->f, H5F_SCOPE_LOCAL) < 0) rc = h5err(e, o->path, o->gpath, "flushing");
    return rc;
}

const char *cc_clean_out_group(const cc_clean_out *o)
{
    return o->gpath;
}

int cc_clean_out_close(cc_clean_out **op, cc_err *e)
{
    if (!op || !*op) return 0;
    cc_clean_out *o = *op;
    close_handles(o, 1);
    int rc = 0;
    if (o->f >= 0 && (H5Fflush(o->f, H5F_SCOPE_LOCAL) < 0 || H5Fclose(o->f) < 0))
        rc = h5err(e, o->path, "file", "closing");
    free(o->path), free(o->group), free(o);
    *op = NULL;
    return rc;
}

int cc_clean_module_ids(const char *path, const char *group, uint32_t n, uint32_t *module,
                        cc_err *e)
{
    hid_t f = -1, g = -1, a = -1, t = -1, sp = -1;
    int rc = 0;
    int32_t *v = NULL;
    H5E_BEGIN_TRY
    {
        f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (f >= 0) g = H5Gopen2(f, group, H5P_DEFAULT);
        if (g >= 0 && H5Aexists(g, "module_ids") > 0) a = H5Aopen(g, "module_ids", H5P_DEFAULT);
    }
    H5E_END_TRY;
    if (f < 0 || g < 0) {
        rc = cc_err_set(e, "%s: cannot open group '%s'", path, group);
        goto out;
    }
    if (a < 0) goto out; /* absent: one module */
    t = H5Aget_type(a), sp = H5Aget_space(a);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    if (H5Tget_class(t) != H5T_INTEGER || np != (hssize_t)n) {
        rc = cc_err_set(e,
                        "%s: %s: attribute module_ids: expected %u integers (one per channel), "
                        "found %lld %s",
                        path, group, n, (long long)np,
                        H5Tget_class(t) == H5T_INTEGER ? "integers" : "values of another type");
        goto out;
    }
    if (!(v = malloc(n * sizeof *v)) || H5Aread(a, H5T_NATIVE_INT32, v) < 0) {
        rc = cc_err_set(e, "%s: %s: attribute module_ids: cannot read", path, group);
        goto out;
    }
    for (uint32_t c = 0; c < n; c++) {
        if (v[c] < 0) {
            rc = cc_err_set(e, "%s: %s: attribute module_ids[%u]: expected >= 0, found %d", path,
                            group, c, v[c]);
            goto out;
        }
        module[c] = (uint32_t)v[c];
    }
    rc = 1;
out:
    free(v);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    if (g >= 0) H5Gclose(g);
    if (f >= 0) H5Fclose(f);
    return rc;
}
