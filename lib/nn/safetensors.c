/* safetensors.c - a strict reader (and a small writer) for safetensors files.
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
 * then the packed data; offsets are relative to the byte after the header.
 * The whole file is read into memory (model files are small) and every
 * tensor is checked before anything is returned: known dtype, shape entries
 * integers, end - begin == numel x dtype size, tensors sorted by offset tile
 * the data region exactly (no gaps, no overlaps, nothing after the last one).
 */
#include "cc_nn.h"
#include "nn_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t dtype_size(cc_st_dtype d)
{
    return d == CC_ST_F64 ? 8 : d == CC_ST_F32 ? 4 : 2;
}

const char *cc_st_dtype_name(cc_st_dtype d)
{
    switch (d) {
    case CC_ST_F32:
        return "F32";
    case CC_ST_F64:
        return "F64";
    case CC_ST_F16:
        return "F16";
    case CC_ST_BF16:
        return "BF16";
    }
    return "?";
}

void cc_st_free(cc_st_file **f)
{
    if (!f || !*f) return;
    cc_st_file *s = *f;
    for (size_t i = 0; i < s->n; i++) free(s->tensors[i].name);
    for (size_t i = 0; i < s->n_meta; i++) free(s->meta_keys[i]), free(s->meta_vals[i]);
    free(s->tensors);
    free(s->meta_keys);
    free(s->meta_vals);
    free(s->bytes);
    free(s->name);
    free(s);
    *f = NULL;
}

static int cmp_offset(const void *a, const void *b)
{
    const cc_st_tensor *x = a, *y = b;
    return x->data < y->data ? -1 : x->data > y->data;
}

static int parse_meta(cc_st_file *f, const nn_json *m, cc_err *e)
{
    if (m->type != NN_J_OBJ)
        return cc_err_set(e, "%s: __metadata__ must be an object, found %s", f->name,
                          nn_json_typename(m->type));
    f->meta_keys = calloc(m->n + 1, sizeof *f->meta_keys);
    f->meta_vals = calloc(m->n + 1, sizeof *f->meta_vals);
    if (!f->meta_keys || !f->meta_vals) return cc_err_set(e, "%s: out of memory", f->name);
    for (size_t i = 0; i < m->n; i++) {
        if (m->kids[i]->type != NN_J_STR)
            return cc_err_set(e, "%s: __metadata__ '%s' must be a string, found %s", f->name,
                              m->keys[i], nn_json_typename(m->kids[i]->type));
        f->meta_keys[i] = strdup(m->keys[i]);
        f->meta_vals[i] = strdup(m->kids[i]->str);
        f->n_meta = i + 1;
        if (!f->meta_keys[i] || !f->meta_vals[i])
            return cc_err_set(e, "%s: out of memory", f->name);
    }
    return 0;
}

/* Fills t from the header entry v of tensor key; data_len is the size of the
 * data region, base its first byte. */
static int parse_entry(cc_st_file *f, const char *key, const nn_json *v, const unsigned char *base,
                       uint64_t data_len, cc_st_tensor *t, cc_err *e)
{
    if (!(t->name = strdup(key))) return cc_err_set(e, "%s: out of memory", f->name);
    if (v->type != NN_J_OBJ)
        return cc_err_set(e, "%s: tensor '%s': expected an object, found %s", f->name, key,
                          nn_json_typename(v->type));
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], "dtype") && strcmp(v->keys[i], "shape") &&
            strcmp(v->keys[i], "data_offsets"))
            return cc_err_set(e,
                              "%s: tensor '%s': unknown field '%s' (known: dtype, shape, "
                              "data_offsets)",
                              f->name, key, v->keys[i]);
    const nn_json *dt = nn_json_get(v, "dtype"), *sh = nn_json_get(v, "shape"),
                  *off = nn_json_get(v, "data_offsets");
    if (!dt || dt->type != NN_J_STR)
        return cc_err_set(e, "%s: tensor '%s': missing or non-string dtype", f->name, key);
    static const char *const names[] = {"F32", "F64", "F16", "BF16"};
    static const cc_st_dtype codes[] = {CC_ST_F32, CC_ST_F64, CC_ST_F16, CC_ST_BF16};
    t->dtype = 0;
    for (size_t i = 0; i < 4; i++)
        if (!strcmp(dt->str, names[i])) t->dtype = codes[i];
    if (!t->dtype)
        return cc_err_set(e,
                          "%s: tensor '%s': unsupported dtype '%.16s' (supported: F32, F64, "
                          "F16, BF16)",
                          f->name, key, dt->str);
    if (!sh || sh->type != NN_J_ARR)
        return cc_err_set(e, "%s: tensor '%s': missing shape array", f->name, key);
    if (sh->n > CC_ST_MAX_DIMS)
        return cc_err_set(e, "%s: tensor '%s': %zu dimensions, at most %d supported", f->name, key,
                          sh->n, CC_ST_MAX_DIMS);
    t->ndim = sh->n;
    t->numel = 1;
    for (size_t i = 0; i < sh->n; i++) {
        if (nn_json_u64(sh->kids[i], &t->shape[i]))
            return cc_err_set(e, "%s: tensor '%s': shape[%zu] is not a non-negative integer",
                              f->name, key, i);
        if (__builtin_mul_overflow(t->numel, t->shape[i], &t->numel))
            return cc_err_set(e, "%s: tensor '%s': shape overflows", f->name, key);
    }
    uint64_t b, en, want;
    if (!off || off->type != NN_J_ARR || off->n != 2 || nn_json_u64(off->kids[0], &b) ||
        nn_json_u64(off->kids[1], &en))
        return cc_err_set(e,
                          "%s: tensor '%s': data_offsets must be [begin, end] with "
                          "non-negative integers",
                          f->name, key);
    if (en < b)
        return cc_err_set(e, "%s: tensor '%s': data_offsets end %llu before begin %llu", f->name,
                          key, (unsigned long long)en, (unsigned long long)b);
    if (__builtin_mul_overflow(t->numel, (uint64_t)dtype_size(t->dtype), &want) || en - b != want)
        return cc_err_set(e,
                          "%s: tensor '%s': %llu bytes in data_offsets, but shape x %s needs "
                          "%llu",
                          f->name, key, (unsigned long long)(en - b), cc_st_dtype_name(t->dtype),
                          (unsigned long long)want);
    if (en > data_len)
        return cc_err_set(e, "%s: tensor '%s': data_offsets end %llu beyond the data (%llu bytes)",
                          f->name, key, (unsigned long long)en, (unsigned long long)data_len);
    t->data = base + b;
    t->nbytes = (size_t)(en - b);
    return 0;
}

static int validate(cc_st_file *f, cc_err *e)
{
    if (f->size < 8)
        return cc_err_set(e, "%s: %zu bytes, too short for a safetensors header length", f->name,
                          f->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | f->bytes[i];
    if (hlen > CC_ST_MAX_HEADER)
        return cc_err_set(e, "%s: header length %llu exceeds the 100 MB limit", f->name,
                          (unsigned long long)hlen);
    if (hlen > f->size - 8)
        return cc_err_set(e, "%s: header length %llu, but only %zu bytes follow", f->name,
                          (unsigned long long)hlen, f->size - 8);
    if (hlen < 2 || f->bytes[8] != '{')
        return cc_err_set(e, "%s: header does not start with '{'", f->name);
    cc_err je;
    nn_json_doc *doc = nn_json_parse((const char *)f->bytes + 8, (size_t)hlen, &je);
    if (!doc) return cc_err_set(e, "%s: header JSON: %s", f->name, je.msg);
    const nn_json *root = nn_json_root(doc);
    const unsigned char *base = f->bytes + 8 + hlen;
    uint64_t data_len = f->size - 8 - hlen;
    int rc = 0;
    if (root->type != NN_J_OBJ) {
        rc = cc_err_set(e, "%s: header must be a JSON object", f->name);
        goto out;
    }
    if (!(f->tensors = calloc(root->n + 1, sizeof *f->tensors))) {
        rc = cc_err_set(e, "%s: out of memory", f->name);
        goto out;
    }
    for (size_t i = 0; i < root->n && !rc; i++) {
        if (!strcmp(root->keys[i], "__metadata__"))
            rc = parse_meta(f, root->kids[i], e);
        else
            rc = parse_entry(f, root->keys[i], root->kids[i], base, data_len, &f->tensors[f->n++],
                             e);
    }
    if (rc) goto out;
    qsort(f->tensors, f->n, sizeof *f->tensors, cmp_offset);
    const unsigned char *at = base;
    for (size_t i = 0; i < f->n; i++) {
        const cc_st_tensor *t = &f->tensors[i];
        if (t->data > at) {
            rc = cc_err_set(e, "%s: tensor '%s': gap of %zu bytes before its data", f->name,
                            t->name, (size_t)(t->data - at));
            goto out;
        }
        if (t->data < at) {
            rc = cc_err_set(e, "%s: tensor '%s': its data overlaps the previous tensor%s%s%s",
                            f->name, t->name, i ? " ('" : "", i ? f->tensors[i - 1].name : "",
                            i ? "')" : "");
            goto out;
        }
        at += t->nbytes;
    }
    if ((uint64_t)(at - base) != data_len)
        rc = cc_err_set(e,
                        "%s: tensors cover %zu of %llu data bytes (file has trailing or "
                        "unreferenced data)",
                        f->name, (size_t)(at - base), (unsigned long long)data_len);
out:
    nn_json_free(&doc);
    return rc;
}

cc_st_file *cc_st_parse(const char *name, const void *buf, size_t len, cc_err *e)
{
    cc_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->name = strdup(name)) || !(f->bytes = malloc(len ? len : 1))) {
        cc_st_free(&f);
        cc_err_set(e, "%s: out of memory", name);
        return NULL;
    }
    memcpy(f->bytes, buf, len);
    f->size = len;
    if (validate(f, e)) cc_st_free(&f);
    return f;
}

cc_st_file *cc_st_open(const char *path, cc_err *e)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        cc_err_set(e, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char *data = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            unsigned char *nd = realloc(data, cap);
            if (!nd) {
                free(data);
                fclose(fp);
                cc_err_set(e, "%s: out of memory", path);
                return NULL;
            }
            data = nd;
        }
        size_t got = fread(data + len, 1, cap - len, fp);
        len += got;
        if (got == 0) break;
    }
    int err = ferror(fp);
    fclose(fp);
    if (err) {
        free(data);
        cc_err_set(e, "%s: read error", path);
        return NULL;
    }
    cc_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->name = strdup(path))) {
        free(data);
        free(f);
        cc_err_set(e, "%s: out of memory", path);
        return NULL;
    }
    f->bytes = data, f->size = len;
    if (validate(f, e)) cc_st_free(&f);
    return f;
}

const cc_st_tensor *cc_st_find(const cc_st_file *f, const char *name)
{
    for (size_t i = 0; f && i < f->n; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

static float half_to_float(uint16_t h)
{
    uint32_t s = (uint32_t)(h >> 15) << 31, ex = (h >> 10) & 0x1f, m = h & 0x3ff, u;
    if (ex == 0) {
        if (!m)
            u = s;
        else { /* subnormal: renormalise */
            ex = 127 - 15 + 1;
            while (!(m & 0x400)) m <<= 1, ex--;
            u = s | ex << 23 | (m & 0x3ff) << 13;
        }
    } else if (ex == 31)
        u = s | 0x7f800000u | m << 13;
    else
        u = s | (ex - 15 + 127) << 23 | m << 13;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void cc_st_to_f32(const cc_st_tensor *t, float *out)
{
    const unsigned char *p = t->data;
    for (uint64_t i = 0; i < t->numel; i++) {
        if (t->dtype == CC_ST_F64) {
            uint64_t u = 0;
            for (int k = 7; k >= 0; k--) u = u << 8 | p[8 * i + (size_t)k];
            double d;
            memcpy(&d, &u, 8);
            out[i] = (float)d;
        } else if (t->dtype == CC_ST_F32) {
            uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                         (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
            memcpy(&out[i], &u, 4);
        } else {
            uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
            if (t->dtype == CC_ST_F16)
                out[i] = half_to_float(h);
            else {
                uint32_t u = (uint32_t)h << 16;
                memcpy(&out[i], &u, 4);
            }
        }
    }
}

int cc_st_write(const char *path, size_t n, const char *const *names, const size_t *ndims,
                const uint64_t *const *shapes, const float *const *data, const char *const *meta,
                cc_err *e)
{
    size_t cap = 256, len = 0;
    char *h = malloc(cap);
    uint64_t off = 0;
    int rc = 0;
#define APPEND(...)                                                                                \
    do {                                                                                           \
        for (;;) {                                                                                 \
            int k_ = snprintf(h ? h + len : NULL, h ? cap - len : 0, __VA_ARGS__);                 \
            if (!h || k_ < 0) goto oom;                                                            \
            if ((size_t)k_ < cap - len) {                                                          \
                len += (size_t)k_;                                                                 \
                break;                                                                             \
            }                                                                                      \
            char *nh_ = realloc(h, cap = 2 * cap + (size_t)k_);                                    \
            if (!nh_) goto oom;                                                                    \
            h = nh_;                                                                               \
        }                                                                                          \
    } while (0)
    APPEND("{");
    if (meta && meta[0]) {
        APPEND("\"__metadata__\":{");
        for (size_t k = 0; meta[k] && meta[k + 1]; k += 2)
            APPEND("%s\"%s\":\"%s\"", k ? "," : "", meta[k], meta[k + 1]);
        APPEND("}%s", n ? "," : "");
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t numel = 1;
        APPEND("%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", i ? "," : "", names[i]);
        for (size_t d = 0; d < ndims[i]; d++) {
            APPEND("%s%llu", d ? "," : "", (unsigned long long)shapes[i][d]);
            numel *= shapes[i][d];
        }
        APPEND("],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
               (unsigned long long)(off + 4 * numel));
        off += 4 * numel;
    }
    APPEND("}");
    while (len % 8) APPEND(" ");
#undef APPEND
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        free(h);
        return cc_err_set(e, "%s: cannot create: %s", path, strerror(errno));
    }
    unsigned char l8[8];
    for (int i = 0; i < 8; i++) l8[i] = (unsigned char)((uint64_t)len >> (8 * i));
    int ok = fwrite(l8, 1, 8, fp) == 8 && fwrite(h, 1, len, fp) == len;
    for (size_t i = 0; ok && i < n; i++) {
        uint64_t numel = 1;
        for (size_t d = 0; d < ndims[i]; d++) numel *= shapes[i][d];
        ok = fwrite(data[i], 4, numel, fp) == numel; /* x86/arm: little-endian hosts */
    }
    if (fclose(fp) || !ok) rc = cc_err_set(e, "%s: write error", path);
    free(h);
    return rc;
oom:
    free(h);
    return cc_err_set(e, "%s: out of memory", path);
}
