/* test_safetensors.c - the strict safetensors reader: round trips, every
 * class of malformed file named in the operations notes, dtype conversion,
 * and a mutation fuzzer (thousands of random corruptions of a valid file
 * must each be refused with a message or parse into in-bounds tensors). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_nn.h"
#include "cc_test.h"

/* Builds a safetensors image from a header text and n data bytes. */
static size_t build(unsigned char *out, const char *hdr, size_t ndata)
{
    size_t h = strlen(hdr);
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(out + 8, hdr, h);
    for (size_t i = 0; i < ndata; i++) out[8 + h + i] = (unsigned char)(i * 7 + 1);
    return 8 + h + ndata;
}

static void expect_fail(const char *hdr, size_t ndata, const char *needle)
{
    unsigned char buf[4096];
    size_t n = build(buf, hdr, ndata);
    cc_err e = {{0}};
    cc_st_file *f = cc_st_parse("bad.safetensors", buf, n, &e);
    ck_assert_msg(f == NULL, "accepted: %s", hdr);
    ck_assert_msg(strstr(e.msg, "bad.safetensors") != NULL, "no file name in '%s'", e.msg);
    ck_assert_msg(strstr(e.msg, needle) != NULL, "'%s' does not mention '%s'", e.msg, needle);
}

START_TEST(roundtrip)
{
    char dir[256], path[512];
    cct_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    float a[6] = {1, -2, 3.5f, 4, 5, 6}, b[3] = {0.25f, -0.5f, 1e-3f};
    const char *names[] = {"layer.weight", "layer.bias"};
    size_t nd[] = {2, 1};
    uint64_t sa[] = {2, 3}, sb[] = {3};
    const uint64_t *shapes[] = {sa, sb};
    const float *data[] = {a, b};
    const char *meta[] = {"format", "pt", NULL};
    cc_err e = {{0}};
    ck_assert_int_eq(cc_st_write(path, 2, names, nd, shapes, data, meta, &e), 0);
    cc_st_file *f = cc_st_open(path, &e);
    ck_assert_msg(f != NULL, "%s", e.msg);
    ck_assert_uint_eq(f->n, 2);
    ck_assert_uint_eq(f->n_meta, 1);
    ck_assert_str_eq(f->meta_vals[0], "pt");
    const cc_st_tensor *t = cc_st_find(f, "layer.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(t->ndim, 2);
    ck_assert_uint_eq(t->shape[1], 3);
    float got[6];
    cc_st_to_f32(t, got);
    ck_assert_mem_eq(got, a, sizeof a);
    cc_st_to_f32(cc_st_find(f, "layer.bias"), got);
    ck_assert_mem_eq(got, b, sizeof b);
    ck_assert_ptr_null(cc_st_find(f, "nope"));
    cc_st_free(&f);
    ck_assert_ptr_null(f);
    snprintf(path, sizeof path, "%s/missing.safetensors", dir);
    ck_assert_ptr_null(cc_st_open(path, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "missing.safetensors"));
}
END_TEST

START_TEST(dtypes)
{
    /* F16 1.0, -2.0, 0.5, smallest subnormal; BF16 1.0; F64 -3.25 */
    unsigned char buf[512];
    const char *hdr = "{\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[8,10]},"
                      "\"d\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[10,18]}}";
    size_t n = build(buf, hdr, 18), h = n - 18;
    const unsigned char data[18] = {0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0x01, 0x00, 0x80,
                                    0x3f, 0,    0,    0,    0,    0,    0,    0x0a, 0xc0};
    memcpy(buf + h, data, 18);
    cc_err e;
    cc_st_file *f = cc_st_parse("t", buf, n, &e);
    ck_assert_msg(f != NULL, "%s", e.msg);
    float v[4];
    cc_st_to_f32(cc_st_find(f, "h"), v);
    ck_assert_float_eq(v[0], 1.0f);
    ck_assert_float_eq(v[1], -2.0f);
    ck_assert_float_eq(v[2], 0.5f);
    ck_assert_float_eq(v[3], 5.9604644775390625e-8f);
    cc_st_to_f32(cc_st_find(f, "b"), v);
    ck_assert_float_eq(v[0], 1.0f);
    cc_st_to_f32(cc_st_find(f, "d"), v);
    ck_assert_float_eq(v[0], -3.25f);
    ck_assert_uint_eq(cc_st_find(f, "d")->numel, 1);
    cc_st_free(&f);
}
END_TEST

START_TEST(malformed)
{
    const char *ok = "\"dtype\":\"F32\",\"shape\":[2]";
    char h[512];
    snprintf(h, sizeof h, "{\"a\":{%s,\"data_offsets\":[0,8]},\"b\":{%s,\"data_offsets\":[12,20]}}",
             ok, ok);
    expect_fail(h, 20, "gap");
    snprintf(h, sizeof h, "{\"a\":{%s,\"data_offsets\":[0,8]},\"b\":{%s,\"data_offsets\":[4,12]}}",
             ok, ok);
    expect_fail(h, 12, "overlaps");
    snprintf(h, sizeof h, "{\"a\":{%s,\"data_offsets\":[0,12]}}", ok);
    expect_fail(h, 12, "shape x F32 needs 8");
    snprintf(h, sizeof h, "{\"a\":{%s,\"data_offsets\":[0,8]}}", ok);
    expect_fail(h, 9, "trailing");
    expect_fail(h, 4, "beyond the data");
    expect_fail("{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8,
                "unsupported dtype 'I64'");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", 8, "shape[0]");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 8,
                "shape[0]");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "data_offsets");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "before");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8,
                "unknown field 'x'");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{}}", 8,
                "duplicate");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],}}", 8, "byte");
    expect_fail("{\"__metadata__\":{\"k\":1}}", 0, "must be a string");
    expect_fail("[1,2]", 0, "start with '{'");
    expect_fail("{\"a\":1} x", 0, "after the JSON value");
    expect_fail("{\"a\":\"\\ud800\"}", 0, "surrogate");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                "\"data_offsets\":[0,8]}}",
                8, "overflow");
    /* header length larger than the file, and beyond the 100 MB limit */
    unsigned char buf[64] = {0};
    cc_err e;
    buf[0] = 0xff;
    ck_assert_ptr_null(cc_st_parse("x.st", buf, 16, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "only 8 bytes follow"));
    buf[0] = 0, buf[4] = 1; /* 2^32 */
    ck_assert_ptr_null(cc_st_parse("x.st", buf, 16, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "100 MB"));
    ck_assert_ptr_null(cc_st_parse("x.st", buf, 5, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "too short"));
    /* an empty header with no tensors is valid; so is a zero-size tensor */
    unsigned char ok2[128];
    size_t n =
        build(ok2, "{\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]}}  ", 0);
    cc_st_file *f = cc_st_parse("z", ok2, n, &e);
    ck_assert_msg(f != NULL, "%s", e.msg);
    ck_assert_uint_eq(cc_st_find(f, "z")->numel, 0);
    cc_st_free(&f);
}
END_TEST

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

START_TEST(fuzz)
{
    char dir[256], path[512];
    cct_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    float a[24], b[5];
    for (int i = 0; i < 24; i++) a[i] = (float)i * 0.5f;
    for (int i = 0; i < 5; i++) b[i] = -(float)i;
    const char *names[] = {"conv.weight", "conv.bias"};
    size_t nd[] = {3, 1};
    uint64_t sa[] = {2, 3, 4}, sb[] = {5};
    const uint64_t *shapes[] = {sa, sb};
    const float *data[] = {a, b};
    const char *meta[] = {"format", "pt", NULL};
    cc_err e;
    ck_assert_int_eq(cc_st_write(path, 2, names, nd, shapes, data, meta, &e), 0);
    cc_st_file *base = cc_st_open(path, &e);
    ck_assert_ptr_nonnull(base);
    const size_t n0 = base->size;
    unsigned char *orig = malloc(n0), *buf = malloc(n0 + 64);
    memcpy(orig, base->bytes, n0);
    cc_st_free(&base);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    int refused = 0, accepted = 0;
    for (int it = 0; it < 20000; it++) {
        size_t n = n0;
        memcpy(buf, orig, n0);
        int edits = 1 + (int)(rng_next(&s) % 4);
        for (int k = 0; k < edits; k++) {
            size_t pos = (size_t)(rng_next(&s) % n);
            switch (rng_next(&s) % 6) {
            case 0:
                buf[pos] ^= (unsigned char)(1u << (rng_next(&s) % 8));
                break;
            case 1:
                buf[pos] = (unsigned char)rng_next(&s);
                break;
            case 2:
                n = pos;
                break; /* truncate */
            case 3:    /* digit in the header changes */
                if (pos > 8 && pos < n && buf[pos] >= '0' && buf[pos] <= '9')
                    buf[pos] = (unsigned char)('0' + rng_next(&s) % 10);
                else
                    buf[pos] = "{}[]\":,0123456789"[rng_next(&s) % 17];
                break;
            case 4:
                buf[(size_t)(rng_next(&s) % 8)] = (unsigned char)rng_next(&s);
                break;
            case 5: /* grow */
                if (n < n0 + 64) buf[n++] = (unsigned char)rng_next(&s);
                break;
            }
            if (!n) break;
        }
        cc_err fe = {{0}};
        cc_st_file *f = cc_st_parse("fuzz.safetensors", buf, n, &fe);
        if (!f) {
            ck_assert_msg(strncmp(fe.msg, "fuzz.safetensors: ", 18) == 0, "message '%s'", fe.msg);
            refused++;
            continue;
        }
        accepted++;
        size_t covered = 0;
        for (size_t i = 0; i < f->n; i++) {
            const cc_st_tensor *t = &f->tensors[i];
            ck_assert(t->data >= f->bytes && t->data + t->nbytes <= f->bytes + f->size);
            float *tmp = malloc(t->numel * sizeof *tmp + 1);
            cc_st_to_f32(t, tmp);
            free(tmp);
            covered += t->nbytes;
        }
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--) hl = hl << 8 | f->bytes[i];
        ck_assert_uint_eq(8 + hl + covered, f->size);
        cc_st_free(&f);
    }
    printf("fuzz: %d mutated files refused, %d accepted (all in bounds)\n", refused, accepted);
    ck_assert_int_gt(refused, 15000);
    free(orig);
    free(buf);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, roundtrip);
    tcase_add_test(tc, dtypes);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, fuzz);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
