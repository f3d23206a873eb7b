/* test_proto.c - lib/wire/cc_proto.h against docs/PROTOCOL.md.
 *
 * The expected bytes are written out by hand from the tables in
 * docs/PROTOCOL.md (little-endian, fixed offsets), independently of the
 * codec, so a field moved or byte-swapped in proto.c shows up here. A fuzz
 * loop feeds random and mutated header buffers (exactly malloc'd, so the
 * sanitizer build catches any over-read) through decode, validate and
 * to_volts.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_proto.h"
#include "cc_test.h"

/* ---- little-endian helpers written independently of proto.c ---- */

static void le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t rd(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}
static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static cc_rec_hdr odd_header(void)
{
    cc_rec_hdr h = {0};
    h.version = 77;     /* ignored by the encoder */
    h.header_len = 999; /* ignored by the encoder */
    h.flags = 0xdeadbeefu;
    h.channel = 0xfffffffeu;
    h.module = 0xfedc;
    h.sample_type = CC_S_FLOAT32;
    h.instance_id = 0x0123456789abcdefull;
    h.seq = 0xfffffffffffffffeull;
    h.timestamp_ns = 0x8000000000000001ull;
    h.run = 0x7f00ff01u;
    h.adc_scale = -1.2345678901234567e-9;
    h.sample_rate_hz = 24999.5f;
    h.trigger_index = 0x01020304u;
    h.n_samples = 0xa0b0c0d0u;
    return h;
}

/* The same header as odd_header(), laid out byte by byte from the table in
 * docs/PROTOCOL.md. */
static void doc_bytes(uint8_t b[72])
{
    memset(b, 0, 72);
    memcpy(b + 0, "CRYO", 4);
    le(b + 4, 1, 2);
    le(b + 6, 72, 2);
    le(b + 8, 0xdeadbeefu, 4);
    le(b + 12, 0xfffffffeu, 4);
    le(b + 16, 0x0123456789abcdefull, 8);
    le(b + 24, 0xfffffffffffffffeull, 8);
    le(b + 32, 0x8000000000000001ull, 8);
    le(b + 40, 0x7f00ff01u, 4);
    le(b + 44, 0xfedc, 2);
    b[46] = 3;
    b[47] = 0;
    le(b + 48, dbits(-1.2345678901234567e-9), 8);
    le(b + 56, fbits(24999.5f), 4);
    le(b + 60, 0x01020304u, 4);
    le(b + 64, 0xa0b0c0d0u, 4);
    le(b + 68, 0, 4);
}

static void assert_hdr_eq(const cc_rec_hdr *a, const cc_rec_hdr *b)
{
    ck_assert_uint_eq(a->flags, b->flags);
    ck_assert_uint_eq(a->channel, b->channel);
    ck_assert_uint_eq(a->module, b->module);
    ck_assert_uint_eq(a->sample_type, b->sample_type);
    ck_assert_uint_eq(a->instance_id, b->instance_id);
    ck_assert_uint_eq(a->seq, b->seq);
    ck_assert_uint_eq(a->timestamp_ns, b->timestamp_ns);
    ck_assert_uint_eq(a->run, b->run);
    ck_assert_uint_eq(dbits(a->adc_scale), dbits(b->adc_scale));
    ck_assert_uint_eq(fbits(a->sample_rate_hz), fbits(b->sample_rate_hz));
    ck_assert_uint_eq(a->trigger_index, b->trigger_index);
    ck_assert_uint_eq(a->n_samples, b->n_samples);
}

START_TEST(test_header_round_trip)
{
    cc_rec_hdr h = odd_header(), d;
    uint8_t b[CC_REC_HDR_LEN];
    cc_rec_hdr_encode(&h, b);
    ck_assert_int_eq(cc_rec_hdr_decode(b, sizeof b, &d), CC_R_ACCEPTED);
    assert_hdr_eq(&d, &h);
    ck_assert_uint_eq(d.version, 1);
    ck_assert_uint_eq(d.header_len, 72);

    /* every field, one at a time with all bits set, lands only in its own place */
    cc_rec_hdr z = {0};
    z.sample_type = 0xff;
    z.module = 0xffff;
    cc_rec_hdr_encode(&z, b);
    ck_assert_int_eq(cc_rec_hdr_decode(b, sizeof b, &d), CC_R_ACCEPTED);
    ck_assert_uint_eq(d.sample_type, 0xff);
    ck_assert_uint_eq(d.module, 0xffff);
    ck_assert_uint_eq(d.flags, 0);
    ck_assert_uint_eq(d.run, 0);
    ck_assert_uint_eq(b[47], 0);
    ck_assert_uint_eq(rd(b + 40, 4), 0);
}
END_TEST

START_TEST(test_header_layout_matches_doc)
{
    cc_rec_hdr h = odd_header(), d;
    uint8_t b[CC_REC_HDR_LEN], want[72];
    ck_assert_int_eq(CC_REC_HDR_LEN, 72);
    cc_rec_hdr_encode(&h, b);
    doc_bytes(want);
    for (int i = 0; i < 72; i++)
        ck_assert_msg(b[i] == want[i], "header byte %d: 0x%02x, docs/PROTOCOL.md says 0x%02x", i,
                      b[i], want[i]);
    /* spelled out for the fields a reader looks for first */
    ck_assert_int_eq(memcmp(b, "CRYO", 4), 0);
    ck_assert_uint_eq(rd(b, 4), CC_REC_MAGIC);
    ck_assert_uint_eq(b[64], 0xd0);
    ck_assert_uint_eq(b[65], 0xc0);
    ck_assert_uint_eq(b[66], 0xb0);
    ck_assert_uint_eq(b[67], 0xa0);
    ck_assert_uint_eq(b[12], 0xfe); /* channel, low byte first */
    ck_assert_uint_eq(b[15], 0xff);
    ck_assert_uint_eq(b[16], 0xef); /* instance id, low byte first */
    ck_assert_uint_eq(b[23], 0x01);
    ck_assert_uint_eq(b[46], CC_S_FLOAT32);

    /* and the hand-made bytes decode to the same fields */
    ck_assert_int_eq(cc_rec_hdr_decode(want, sizeof want, &d), CC_R_ACCEPTED);
    assert_hdr_eq(&d, &h);
}
END_TEST

START_TEST(test_header_refusals)
{
    uint8_t good[72];
    doc_bytes(good);
    cc_rec_hdr d;
    /* every prefix shorter than 72 bytes is truncated (the frame still has
     * the right magic and version) */
    for (size_t len = 0; len < 72; len++) {
        uint8_t *p = malloc(len ? len : 1);
        memcpy(p, good, len);
        ck_assert_msg(cc_rec_hdr_decode(p, len, &d) == CC_R_TRUNCATED, "len %zu", len);
        free(p);
    }
    uint8_t b[96];
    memcpy(b, good, 72);
    b[0] = 'X';
    ck_assert_int_eq(cc_rec_hdr_decode(b, 72, &d), CC_R_BAD_MAGIC);
    memcpy(b, "CRYD", 4); /* a decision is not a record */
    ck_assert_int_eq(cc_rec_hdr_decode(b, 72, &d), CC_R_BAD_MAGIC);
    memcpy(b, "OYRC", 4); /* big-endian magic */
    ck_assert_int_eq(cc_rec_hdr_decode(b, 72, &d), CC_R_BAD_MAGIC);
    memcpy(b, good, 72);
    le(b + 4, 2, 2);
    ck_assert_int_eq(cc_rec_hdr_decode(b, 72, &d), CC_R_BAD_VERSION);
    le(b + 4, 0, 2);
    ck_assert_int_eq(cc_rec_hdr_decode(b, 72, &d), CC_R_BAD_VERSION);
    le(b + 4, 0x0100, 2); /* version 1 written big-endian */
    ck_assert_int_eq(cc_rec_hdr_decode(b, 72, &d), CC_R_BAD_VERSION);
    /* a short header_len is refused even in a long frame */
    memcpy(b, good, 72);
    for (unsigned hl = 0; hl < 72; hl++) {
        le(b + 6, hl, 2);
        ck_assert_msg(cc_rec_hdr_decode(b, 72, &d) == CC_R_TRUNCATED, "header_len %u", hl);
    }
    /* header_len longer than the frame: truncated */
    le(b + 6, 80, 2);
    ck_assert_int_eq(cc_rec_hdr_decode(b, 72, &d), CC_R_TRUNCATED);
    ck_assert_int_eq(cc_rec_hdr_decode(b, 79, &d), CC_R_TRUNCATED);
}
END_TEST

START_TEST(test_header_extension_rule)
{
    /* v1.x appends fields after offset 72 and raises header_len; a v1
     * receiver reads what it knows and skips the rest */
    uint8_t b[96];
    doc_bytes(b);
    for (int i = 72; i < 96; i++) b[i] = (uint8_t)(0xa5 ^ i);
    le(b + 6, 96, 2);
    cc_rec_hdr d, want = odd_header();
    ck_assert_int_eq(cc_rec_hdr_decode(b, 96, &d), CC_R_ACCEPTED);
    assert_hdr_eq(&d, &want);
    ck_assert_uint_eq(d.header_len, 96);
    le(b + 6, 80, 2);
    ck_assert_int_eq(cc_rec_hdr_decode(b, 96, &d), CC_R_ACCEPTED);
    ck_assert_uint_eq(d.header_len, 80);
    ck_assert_uint_eq(d.n_samples, 0xa0b0c0d0u);
    /* nonzero reserved bytes are ignored */
    le(b + 6, 72, 2);
    b[47] = 0x55;
    le(b + 68, 0xffffffffu, 4);
    ck_assert_int_eq(cc_rec_hdr_decode(b, 72, &d), CC_R_ACCEPTED);
    assert_hdr_eq(&d, &want);
}
END_TEST

static cc_rec_hdr valid_header(uint8_t type, uint32_t n)
{
    cc_rec_hdr h = {0};
    h.sample_type = type;
    h.n_samples = n;
    h.adc_scale = 20.0 / 65536.0;
    h.sample_rate_hz = 25000.0f;
    h.trigger_index = n / 4;
    return h;
}

START_TEST(test_validate_every_reason)
{
    cc_rec_hdr h = valid_header(CC_S_INT16, 100);
    ck_assert_int_eq(cc_rec_validate(&h, 200, 1000), CC_R_ACCEPTED);
    h.sample_type = CC_S_INT32;
    ck_assert_int_eq(cc_rec_validate(&h, 400, 1000), CC_R_ACCEPTED);
    h.sample_type = CC_S_FLOAT32;
    ck_assert_int_eq(cc_rec_validate(&h, 400, 1000), CC_R_ACCEPTED);
    ck_assert_uint_eq(cc_sample_size(CC_S_INT16), 2);
    ck_assert_uint_eq(cc_sample_size(CC_S_INT32), 4);
    ck_assert_uint_eq(cc_sample_size(CC_S_FLOAT32), 4);
    ck_assert_uint_eq(cc_sample_size(0), 0);
    ck_assert_uint_eq(cc_sample_size(4), 0);

    const uint8_t bad_types[] = {0, 4, 9, 255};
    for (size_t i = 0; i < sizeof bad_types; i++) {
        h = valid_header(bad_types[i], 100);
        ck_assert_int_eq(cc_rec_validate(&h, 200, 1000), CC_R_SAMPLE_TYPE);
    }
    h = valid_header(CC_S_INT16, 0);
    ck_assert_int_eq(cc_rec_validate(&h, 0, 1000), CC_R_ZERO_LENGTH);

    h = valid_header(CC_S_INT16, 1001);
    ck_assert_int_eq(cc_rec_validate(&h, 2002, 1000), CC_R_TOO_LONG);
    h = valid_header(CC_S_INT16, 1000); /* the limit itself is allowed */
    ck_assert_int_eq(cc_rec_validate(&h, 2000, 1000), CC_R_ACCEPTED);

    h = valid_header(CC_S_INT16, 100);
    ck_assert_int_eq(cc_rec_validate(&h, 199, 1000), CC_R_LENGTH_MISMATCH);
    ck_assert_int_eq(cc_rec_validate(&h, 201, 1000), CC_R_LENGTH_MISMATCH);
    ck_assert_int_eq(cc_rec_validate(&h, 0, 1000), CC_R_LENGTH_MISMATCH);
    ck_assert_int_eq(cc_rec_validate(&h, 400, 1000), CC_R_LENGTH_MISMATCH);
    h.sample_type = CC_S_INT32;
    ck_assert_int_eq(cc_rec_validate(&h, 200, 1000), CC_R_LENGTH_MISMATCH);
    /* n_samples * 4 does not overflow 32 bits: 2^31 samples are 8 GiB, not 0 */
    h = valid_header(CC_S_INT32, 0x80000000u);
    ck_assert_int_eq(cc_rec_validate(&h, 0, UINT32_MAX), CC_R_LENGTH_MISMATCH);

    const float bad_rates[] = {0.0f, -0.0f, -25000.0f, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad_rates / sizeof *bad_rates; i++) {
        h = valid_header(CC_S_INT16, 100);
        h.sample_rate_hz = bad_rates[i];
        ck_assert_msg(cc_rec_validate(&h, 200, 1000) == CC_R_BAD_FIELD, "rate %g", bad_rates[i]);
    }
    const double bad_scales[] = {0.0, -0.0, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad_scales / sizeof *bad_scales; i++) {
        h = valid_header(CC_S_INT16, 100);
        h.adc_scale = bad_scales[i];
        ck_assert_msg(cc_rec_validate(&h, 200, 1000) == CC_R_BAD_FIELD, "scale %g", bad_scales[i]);
    }
    h = valid_header(CC_S_INT16, 100);
    h.adc_scale = -1e-3; /* inverted polarity is allowed */
    ck_assert_int_eq(cc_rec_validate(&h, 200, 1000), CC_R_ACCEPTED);
    h.trigger_index = 99;
    ck_assert_int_eq(cc_rec_validate(&h, 200, 1000), CC_R_ACCEPTED);
    h.trigger_index = 100;
    ck_assert_int_eq(cc_rec_validate(&h, 200, 1000), CC_R_BAD_FIELD);
    h.trigger_index = UINT32_MAX;
    ck_assert_int_eq(cc_rec_validate(&h, 200, 1000), CC_R_BAD_FIELD);
}
END_TEST

START_TEST(test_to_volts)
{
    /* int16, little-endian on the wire */
    const int16_t c16[] = {-32768, -1, 0, 1, 12345, 32767};
    uint8_t w16[sizeof c16];
    for (int i = 0; i < 6; i++) le(w16 + 2 * i, (uint16_t)c16[i], 2);
    cc_rec_hdr h = valid_header(CC_S_INT16, 6);
    float out[8];
    out[6] = 123.0f;
    ck_assert_int_eq(cc_rec_to_volts(&h, w16, out), CC_R_ACCEPTED);
    for (int i = 0; i < 6; i++) ck_assert_float_eq(out[i], (float)(c16[i] * (20.0 / 65536.0)));
    ck_assert_float_eq(out[0], -10.0f);
    ck_assert_float_eq(out[6], 123.0f); /* nothing written past n_samples */

    const int32_t c32[] = {INT32_MIN, -5, 0, 7, 1000000, INT32_MAX};
    uint8_t w32[sizeof c32];
    for (int i = 0; i < 6; i++) le(w32 + 4 * i, (uint32_t)c32[i], 4);
    h = valid_header(CC_S_INT32, 6);
    h.adc_scale = 1e-6;
    ck_assert_int_eq(cc_rec_to_volts(&h, w32, out), CC_R_ACCEPTED);
    for (int i = 0; i < 6; i++) ck_assert_float_eq(out[i], (float)(c32[i] * 1e-6));
    ck_assert_float_eq_tol(out[5], 2147.483647f, 1e-3f);

    const float f[] = {1.5f, -2.25f, 0.0f, 1e-7f};
    uint8_t wf[sizeof f];
    for (int i = 0; i < 4; i++) le(wf + 4 * i, fbits(f[i]), 4);
    h = valid_header(CC_S_FLOAT32, 4);
    h.adc_scale = 2.0;
    ck_assert_int_eq(cc_rec_to_volts(&h, wf, out), CC_R_ACCEPTED);
    ck_assert_float_eq(out[0], 3.0f);
    ck_assert_float_eq(out[1], -4.5f);
    ck_assert_float_eq(out[2], 0.0f);
    ck_assert_float_eq(out[3], 2e-7f);

    /* NaN, Inf, and a finite sample that overflows float after scaling */
    const float badv[] = {NAN, INFINITY, -INFINITY, 3e38f};
    for (int k = 0; k < 4; k++) {
        le(wf + 4 * 2, fbits(badv[k]), 4);
        ck_assert_msg(cc_rec_to_volts(&h, wf, out) == CC_R_NAN, "value %g", badv[k]);
        ck_assert_float_eq(out[0], 3.0f); /* the others are still converted */
        ck_assert_float_eq(out[3], 2e-7f);
    }
    /* the same 3e38 with scale 1 is finite */
    h.adc_scale = 1.0;
    ck_assert_int_eq(cc_rec_to_volts(&h, wf, out), CC_R_ACCEPTED);
}
END_TEST

static cc_decision odd_decision(void)
{
    cc_decision d = {0};
    d.instance_id = 0xfedcba9876543210ull;
    d.seq = 0x0000000100000002ull;
    d.timestamp_ns = 1700000000123456789ull;
    d.channel = 0x12345678u;
    d.module = 0xbeef;
    d.verdict = CC_V_ACCEPT;
    d.reason = CC_R_ACCEPTED;
    d.score = 0.8125f;
    d.cutoff = 0.5f;
    d.latency_us = 0x87654321u;
    d.run = 4242;
    strcpy(d.classifier, "abcdefghijklmno");    /* 15 characters: the maximum */
    strcpy(d.model, "cnn-v3-2026-12-04-final"); /* 23 characters */
    return d;
}

START_TEST(test_decision_round_trip_and_layout)
{
    ck_assert_int_eq(CC_DEC_LEN, 96);
    cc_decision d = odd_decision(), r;
    uint8_t b[CC_DEC_LEN];
    memset(b, 0xcc, sizeof b);
    cc_decision_encode(&d, b);
    cc_err e;
    ck_assert_int_eq(cc_decision_decode(b, sizeof b, &r, &e), 0);
    ck_assert_uint_eq(r.instance_id, d.instance_id);
    ck_assert_uint_eq(r.seq, d.seq);
    ck_assert_uint_eq(r.timestamp_ns, d.timestamp_ns);
    ck_assert_uint_eq(r.channel, d.channel);
    ck_assert_uint_eq(r.module, d.module);
    ck_assert_uint_eq(r.verdict, d.verdict);
    ck_assert_uint_eq(r.reason, d.reason);
    ck_assert_float_eq(r.score, d.score);
    ck_assert_float_eq(r.cutoff, d.cutoff);
    ck_assert_uint_eq(r.latency_us, d.latency_us);
    ck_assert_uint_eq(r.run, d.run);
    ck_assert_str_eq(r.classifier, "abcdefghijklmno");
    ck_assert_str_eq(r.model, "cnn-v3-2026-12-04-final");

    /* offsets of docs/PROTOCOL.md, decision table */
    ck_assert_int_eq(memcmp(b, "CRYD", 4), 0);
    ck_assert_uint_eq(rd(b, 4), CC_DEC_MAGIC);
    ck_assert_uint_eq(rd(b + 4, 2), 1);
    ck_assert_uint_eq(rd(b + 6, 2), 96);
    ck_assert_uint_eq(rd(b + 8, 8), d.instance_id);
    ck_assert_uint_eq(rd(b + 16, 8), d.seq);
    ck_assert_uint_eq(rd(b + 24, 8), d.timestamp_ns);
    ck_assert_uint_eq(rd(b + 32, 4), d.channel);
    ck_assert_uint_eq(rd(b + 36, 2), d.module);
    ck_assert_uint_eq(b[38], CC_V_ACCEPT);
    ck_assert_uint_eq(b[39], CC_R_ACCEPTED);
    ck_assert_uint_eq(rd(b + 40, 4), fbits(0.8125f));
    ck_assert_uint_eq(rd(b + 44, 4), fbits(0.5f));
    ck_assert_uint_eq(rd(b + 48, 4), d.latency_us);
    ck_assert_uint_eq(rd(b + 52, 4), 4242);
    ck_assert_int_eq(memcmp(b + 56, "abcdefghijklmno\0", 16), 0);
    ck_assert_int_eq(memcmp(b + 72, "cnn-v3-2026-12-04-final\0", 24), 0);

    /* short names are NUL-padded, never followed by stale bytes */
    cc_decision s = odd_decision();
    memset(s.classifier, 0, sizeof s.classifier);
    memset(s.model, 0, sizeof s.model);
    strcpy(s.classifier, "nn");
    strcpy(s.model, "m");
    memset(b, 0xcc, sizeof b);
    cc_decision_encode(&s, b);
    ck_assert_int_eq(memcmp(b + 56, "nn", 2), 0);
    for (int i = 58; i < 72; i++) ck_assert_msg(b[i] == 0, "classifier byte %d not NUL", i);
    for (int i = 73; i < 96; i++) ck_assert_msg(b[i] == 0, "model byte %d not NUL", i);
    ck_assert_int_eq(cc_decision_decode(b, sizeof b, &r, &e), 0);
    ck_assert_str_eq(r.classifier, "nn");
    ck_assert_str_eq(r.model, "m");

    /* an invalid decision carries a NaN score */
    s.verdict = CC_V_INVALID;
    s.reason = CC_R_LENGTH_MISMATCH;
    s.score = NAN;
    cc_decision_encode(&s, b);
    ck_assert_int_eq(cc_decision_decode(b, sizeof b, &r, &e), 0);
    ck_assert(isnan(r.score));
    ck_assert_uint_eq(r.verdict, CC_V_INVALID);
    ck_assert_uint_eq(r.reason, CC_R_LENGTH_MISMATCH);

    /* names on the wire without any NUL still decode to terminated strings */
    memset(b + 56, 'x', 40);
    ck_assert_int_eq(cc_decision_decode(b, sizeof b, &r, &e), 0);
    ck_assert_uint_lt(strlen(r.classifier), sizeof r.classifier);
    ck_assert_uint_lt(strlen(r.model), sizeof r.model);
}
END_TEST

START_TEST(test_decision_refusals)
{
    cc_decision d = odd_decision(), r;
    uint8_t b[128];
    cc_decision_encode(&d, b);
    cc_err e;
    ck_assert_int_eq(cc_decision_decode(b, 95, &r, &e), -1);
    ck_assert_str_eq(e.msg, "decision: 95 bytes, expected at least 96");
    ck_assert_int_eq(cc_decision_decode(b, 0, &r, &e), -1);
    /* a longer (grown) decision is read */
    memset(b + 96, 0x77, 32);
    ck_assert_int_eq(cc_decision_decode(b, 128, &r, &e), 0);
    ck_assert_uint_eq(r.seq, d.seq);
    b[3] = 'O';
    ck_assert_int_eq(cc_decision_decode(b, 96, &r, &e), -1);
    ck_assert_str_eq(e.msg, "decision: bad magic 0x4f595243");
    b[3] = 'D';
    le(b + 4, 2, 2);
    ck_assert_int_eq(cc_decision_decode(b, 96, &r, &e), -1);
    ck_assert_str_eq(e.msg, "decision: unsupported version 2");
    ck_assert_int_eq(cc_decision_decode(b, 96, &r, NULL), -1);
}
END_TEST

START_TEST(test_topics)
{
    char t[CC_TOPIC_MAX];
    ck_assert_int_eq(cc_topic_record(t, sizeof t, 7), 8);
    ck_assert_str_eq(t, "rec/007/");
    ck_assert_int_eq(cc_topic_decision(t, sizeof t, 7), 8);
    ck_assert_str_eq(t, "dec/007/");
    ck_assert_int_eq(cc_topic_record(t, sizeof t, 0), 8);
    ck_assert_str_eq(t, "rec/000/");
    ck_assert_int_eq(cc_topic_record(t, sizeof t, 70), 8);
    ck_assert_str_eq(t, "rec/070/");
    ck_assert_int_eq(cc_topic_record(t, sizeof t, 1234), 9);
    ck_assert_str_eq(t, "rec/1234/");
    ck_assert_int_eq(cc_topic_decision(t, sizeof t, UINT32_MAX), 15);
    ck_assert_str_eq(t, "dec/4294967295/");
    ck_assert_int_lt(15, CC_TOPIC_MAX);

    /* prefix-safe: no topic is a prefix of another channel's topic, which is
     * what a SUB subscription tests */
    enum { N = 1200 };
    static char rec[N][16];
    uint32_t ch[N];
    for (uint32_t i = 0; i < N; i++) {
        ch[i] = i < 1100 ? i : 1000000 + i * 7919u;
        cc_topic_record(rec[i], sizeof rec[i], ch[i]);
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (i != j && strncmp(rec[j], rec[i], strlen(rec[i])) == 0)
                ck_abort_msg("subscription '%s' matches '%s'", rec[i], rec[j]);
    char dec[16];
    cc_topic_decision(dec, sizeof dec, 7);
    ck_assert_msg(strncmp(dec, "rec/", 4) != 0, "decision topics must not match 'rec/'");
}
END_TEST

START_TEST(test_reason_names)
{
    static const char *const doc[CC_R_COUNT] = {
        "accepted",         "rejected",    "nan",       "zero_length", "sample_type",
        "length_mismatch",  "too_long",    "too_short", "no_samples",  "bad_field",
        "classifier_error", "frame_count", "truncated", "bad_magic",   "bad_version",
        "oversized"};
    for (int r = 0; r < CC_R_COUNT; r++) {
        ck_assert_str_eq(cc_reason_name((cc_reason)r), doc[r]);
        for (int s = 0; s < r; s++)
            ck_assert_str_ne(cc_reason_name((cc_reason)r), cc_reason_name((cc_reason)s));
    }
    ck_assert_str_eq(cc_reason_name(CC_R_COUNT), "unknown");
    ck_assert_str_eq(cc_reason_name((cc_reason)255), "unknown");
    ck_assert_str_eq(cc_reason_name((cc_reason)-1), "unknown");
    /* the codes in the docs table */
    ck_assert_int_eq(CC_R_NAN, 2);
    ck_assert_int_eq(CC_R_CLASSIFIER_ERROR, 10);
    ck_assert_int_eq(CC_R_FRAME_COUNT, 11);
    ck_assert_int_eq(CC_R_OVERSIZED, 15);
}
END_TEST

/* ---- fuzz ---- */

static uint64_t xs(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

START_TEST(test_fuzz_headers)
{
    uint64_t rng = 0x243f6a8885a308d3ull;
    uint8_t base[72];
    doc_bytes(base);
    long counts[CC_R_COUNT] = {0};
    long validated = 0, converted = 0;
    for (int it = 0; it < 200000; it++) {
        size_t len = (size_t)(xs(&rng) % 161);
        uint8_t *b = malloc(len ? len : 1); /* exact size: ASan sees over-reads */
        int mode = (int)(xs(&rng) % 4);
        for (size_t i = 0; i < len; i++) b[i] = (uint8_t)xs(&rng);
        if (mode > 0) { /* a valid header with a few mutations */
            memcpy(b, base, len < 72 ? len : 72);
            if (len >= 8 && xs(&rng) % 2) le(b + 6, 72 + xs(&rng) % 100, 2);
            int flips = (int)(xs(&rng) % 4);
            for (int k = 0; k < flips && len; k++) {
                size_t at = (size_t)(xs(&rng) % len);
                if (mode == 3 && at < 8) continue; /* keep it readable more often */
                b[at] = (uint8_t)xs(&rng);
            }
            if (len >= 72 && xs(&rng) % 2) { /* make it small enough to convert */
                b[46] = (uint8_t)(1 + xs(&rng) % 3);
                le(b + 64, xs(&rng) % 300, 4);
                le(b + 60, xs(&rng) % 300, 4);
            }
        }
        cc_rec_hdr h;
        cc_reason r = cc_rec_hdr_decode(b, len, &h);
        ck_assert(r == CC_R_ACCEPTED || r == CC_R_TRUNCATED || r == CC_R_BAD_MAGIC ||
                  r == CC_R_BAD_VERSION);
        counts[r]++;
        if (r == CC_R_ACCEPTED) {
            ck_assert_uint_ge(len, 72);
            ck_assert_uint_ge(h.header_len, 72);
            ck_assert_uint_le(h.header_len, len);
            ck_assert_uint_eq(h.version, 1);
            /* re-encoding gives back the same bytes except header_len and reserved */
            uint8_t re[72];
            cc_rec_hdr_encode(&h, re);
            for (int i = 0; i < 72; i++)
                if (i != 6 && i != 7 && i != 47 && i < 68 && re[i] != b[i])
                    ck_abort_msg("iteration %d: byte %d changed", it, i);
            size_t ss = cc_sample_size(h.sample_type);
            size_t slen = ss && xs(&rng) % 4 ? (size_t)h.n_samples * ss : (size_t)(xs(&rng) % 64);
            if (slen > (1u << 16)) slen = (size_t)(xs(&rng) % 64);
            cc_reason v = cc_rec_validate(&h, slen, 1 + (uint32_t)(xs(&rng) % 100000));
            ck_assert(v == CC_R_ACCEPTED || (v >= CC_R_INVALID_FIRST && v < CC_R_NDECIDABLE));
            if (v == CC_R_ACCEPTED) {
                validated++;
                uint8_t *smp = malloc(slen);
                for (size_t i = 0; i < slen; i++) smp[i] = (uint8_t)xs(&rng);
                float *out = malloc(h.n_samples * sizeof *out);
                cc_reason c = cc_rec_to_volts(&h, smp, out);
                ck_assert(c == CC_R_ACCEPTED || c == CC_R_NAN);
                if (c == CC_R_ACCEPTED)
                    for (uint32_t i = 0; i < h.n_samples; i++)
                        if (!isfinite(out[i])) ck_abort_msg("sample %u not finite", i);
                converted++;
                free(out);
                free(smp);
            }
        }
        cc_decision d;
        if (cc_decision_decode(b, len, &d, NULL) == 0) {
            ck_assert_uint_lt(strlen(d.classifier), sizeof d.classifier);
            ck_assert_uint_lt(strlen(d.model), sizeof d.model);
        }
        free(b);
    }
    /* the generator reached every outcome (otherwise the fuzz proves little) */
    ck_assert_int_gt(counts[CC_R_ACCEPTED], 10000);
    ck_assert_int_gt(counts[CC_R_TRUNCATED], 10000);
    ck_assert_int_gt(counts[CC_R_BAD_MAGIC], 10000);
    ck_assert_int_gt(counts[CC_R_BAD_VERSION], 1000);
    ck_assert_int_gt(validated, 1000);
    ck_assert_int_gt(converted, 1000);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("proto");
    TCase *t = tcase_create("proto");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_header_round_trip);
    tcase_add_test(t, test_header_layout_matches_doc);
    tcase_add_test(t, test_header_refusals);
    tcase_add_test(t, test_header_extension_rule);
    tcase_add_test(t, test_validate_every_reason);
    tcase_add_test(t, test_to_volts);
    tcase_add_test(t, test_decision_round_trip_and_layout);
    tcase_add_test(t, test_decision_refusals);
    tcase_add_test(t, test_topics);
    tcase_add_test(t, test_reason_names);
    tcase_add_test(t, test_fuzz_headers);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
