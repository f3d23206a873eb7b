/* proto.c - wire protocol v1 codec; see cc_proto.h and docs/PROTOCOL.md.
 *
 * All multi-byte fields are little-endian. put_/get_ helpers copy byte by
 * byte, so no struct is ever cast onto network data.
 */
#include "cc_proto.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static void putf32(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put32(p, u);
}
static float getf32(const uint8_t *p)
{
    uint32_t u = get32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static void putf64(uint8_t *p, double f)
{
    uint64_t u;
    memcpy(&u, &f, 8);
    put64(p, u);
}
static double getf64(const uint8_t *p)
{
    uint64_t u = get64(p);
    double f;
    memcpy(&f, &u, 8);
    return f;
}

const char *cc_reason_name(cc_reason r)
{
    static const char *const names[CC_R_COUNT] = {
        [CC_R_ACCEPTED] = "accepted",
        [CC_R_REJECTED] = "rejected",
        [CC_R_NAN] = "nan",
        [CC_R_ZERO_LENGTH] = "zero_length",
        [CC_R_SAMPLE_TYPE] = "sample_type",
        [CC_R_LENGTH_MISMATCH] = "length_mismatch",
        [CC_R_TOO_LONG] = "too_long",
        [CC_R_TOO_SHORT] = "too_short",
        [CC_R_NO_SAMPLES] = "no_samples",
        [CC_R_BAD_FIELD] = "bad_field",
        [CC_R_CLASSIFIER_ERROR] = "classifier_error",
        [CC_R_FRAME_COUNT] = "frame_count",
        [CC_R_TRUNCATED] = "truncated",
        [CC_R_BAD_MAGIC] = "bad_magic",
        [CC_R_BAD_VERSION] = "bad_version",
        [CC_R_OVERSIZED] = "oversized",
    };
    return (unsigned)r < CC_R_COUNT && names[r] ? names[r] : "unknown";
}

size_t cc_sample_size(uint8_t t)
{
    switch (t) {
    case CC_S_INT16:
        return 2;
    case CC_S_INT32:
        return 4;
    case CC_S_FLOAT32:
        return 4;
    }
    return 0;
}

/* Header layout (offsets in bytes), see docs/PROTOCOL.md. */
enum {
    O_MAGIC = 0,
    O_VERSION = 4,
    O_HLEN = 6,
    O_FLAGS = 8,
    O_CHANNEL = 12,
    O_INSTANCE = 16,
    O_SEQ = 24,
    O_TIME = 32,
    O_RUN = 40,
    O_MODULE = 44,
    O_STYPE = 46,
    O_RESERVED1 = 47,
    O_SCALE = 48,
    O_RATE = 56,
    O_TRIGGER = 60,
    O_NSAMPLES = 64,
    O_RESERVED2 = 68
};

void cc_rec_hdr_encode(const cc_rec_hdr *h, uint8_t b[CC_REC_HDR_LEN])
{
    memset(b, 0, CC_REC_HDR_LEN);
    put32(b + O_MAGIC, CC_REC_MAGIC);
    put16(b + O_VERSION, CC_PROTO_VERSION);
    put16(b + O_HLEN, CC_REC_HDR_LEN);
    put32(b + O_FLAGS, h->flags);
    put32(b + O_CHANNEL, h->channel);
    put64(b + O_INSTANCE, h->instance_id);
    put64(b + O_SEQ, h->seq);
    put64(b + O_TIME, h->timestamp_ns);
    put32(b + O_RUN, h->run);
    put16(b + O_MODULE, h->module);
    b[O_STYPE] = h->sample_type;
    putf64(b + O_SCALE, h->adc_scale);
    putf32(b + O_RATE, h->sample_rate_hz);
    put32(b + O_TRIGGER, h->trigger_index);
    put32(b + O_NSAMPLES, h->n_samples);
}

cc_reason cc_rec_hdr_decode(const void *buf, size_t len, cc_rec_hdr *h)
{
    const uint8_t *b = buf;
    memset(h, 0, sizeof *h);
    if (len < 8) return CC_R_TRUNCATED;
    if (get32(b + O_MAGIC) != CC_REC_MAGIC) return CC_R_BAD_MAGIC;
    h->version = get16(b + O_VERSION);
    h->header_len = get16(b + O_HLEN);
    if (h->version != CC_PROTO_VERSION) return CC_R_BAD_VERSION;
    if (len < CC_REC_HDR_LEN || h->header_len < CC_REC_HDR_LEN || h->header_len > len)
        return CC_R_TRUNCATED;
    h->flags = get32(b + O_FLAGS);
    h->channel = get32(b + O_CHANNEL);
    h->instance_id = get64(b + O_INSTANCE);
    h->seq = get64(b + O_SEQ);
    h->timestamp_ns = get64(b + O_TIME);
    h->run = get32(b + O_RUN);
    h->module = get16(b + O_MODULE);
    h->sample_type = b[O_STYPE];
    h->adc_scale = getf64(b + O_SCALE);
    h->sample_rate_hz = getf32(b + O_RATE);
    h->trigger_index = get32(b + O_TRIGGER);
    h->n_samples = get32(b + O_NSAMPLES);
    return CC_R_ACCEPTED;
}

cc_reason cc_rec_validate(const cc_rec_hdr *h, size_t samples_len, uint32_t max_samples)
{
    size_t ss = cc_sample_size(h->sample_type);
    if (!ss) return CC_R_SAMPLE_TYPE;
    if (h->n_samples == 0) return CC_R_ZERO_LENGTH;
    if (h->n_samples > max_samples) return CC_R_TOO_LONG;
    if ((uint64_t)h->n_samples * ss != samples_len) return CC_R_LENGTH_MISMATCH;
    if (!isfinite(h->sample_rate_hz) || h->sample_rate_hz <= 0.0f || !isfinite(h->adc_scale) ||
        h->adc_scale == 0.0 || h->trigger_index >= h->n_samples)
        return CC_R_BAD_FIELD;
    return CC_R_ACCEPTED;
}

cc_reason cc_rec_to_volts(const cc_rec_hdr *h, const void *samples, float *out)
{
    const uint8_t *p = samples;
    const double s = h->adc_scale;
    int bad = 0;
    for (uint32_t i = 0; i < h->n_samples; i++) {
        double v;
        switch (h->sample_type) {
        case CC_S_INT16:
            v = (int16_t)get16(p + 2 * (size_t)i) * s;
            break;
        case CC_S_INT32:
            v = (int32_t)get32(p + 4 * (size_t)i) * s;
            break;
        default:
            v = getf32(p + 4 * (size_t)i) * s;
            break;
        }
        out[i] = (float)v;
        bad |= !isfinite(out[i]);
    }
    return bad ? CC_R_NAN : CC_R_ACCEPTED;
}

int cc_topic_record(char *buf, size_t len, uint32_t channel)
{
    return snprintf(buf, len, "rec/%03u/", channel);
}

int cc_topic_decision(char *buf, size_t len, uint32_t channel)
{
    return snprintf(buf, len, "dec/%03u/", channel);
}

/* Decision layout (offsets in bytes), see docs/PROTOCOL.md. */
enum {
    D_MAGIC = 0,
    D_VERSION = 4,
    D_LEN = 6,
    D_INSTANCE = 8,
    D_SEQ = 16,
    D_TIME = 24,
    D_CHANNEL = 32,
    D_MODULE = 36,
    D_VERDICT = 38,
    D_REASON = 39,
    D_SCORE = 40,
    D_CUTOFF = 44,
    D_LATENCY = 48,
    D_RUN = 52,
    D_CLASSIFIER = 56,
    D_MODEL = 72
};

void cc_decision_encode(const cc_decision *d, uint8_t b[CC_DEC_LEN])
{
    memset(b, 0, CC_DEC_LEN);
    put32(b + D_MAGIC, CC_DEC_MAGIC);
    put16(b + D_VERSION, CC_PROTO_VERSION);
    put16(b + D_LEN, CC_DEC_LEN);
    put64(b + D_INSTANCE, d->instance_id);
    put64(b + D_SEQ, d->seq);
    put64(b + D_TIME, d->timestamp_ns);
    put32(b + D_CHANNEL, d->channel);
    put16(b + D_MODULE, d->module);
    b[D_VERDICT] = d->verdict;
    b[D_REASON] = d->reason;
    putf32(b + D_SCORE, d->score);
    putf32(b + D_CUTOFF, d->cutoff);
    put32(b + D_LATENCY, d->latency_us);
    put32(b + D_RUN, d->run);
    memcpy(b + D_CLASSIFIER, d->classifier, strnlen(d->classifier, sizeof d->classifier));
    memcpy(b + D_MODEL, d->model, strnlen(d->model, sizeof d->model));
}

int cc_decision_decode(const void *buf, size_t len, cc_decision *d, cc_err *e)
{
    const uint8_t *b = buf;
    memset(d, 0, sizeof *d);
    if (len < CC_DEC_LEN)
        return cc_err_set(e, "decision: %zu bytes, expected at least %d", len, CC_DEC_LEN);
    if (get32(b + D_MAGIC) != CC_DEC_MAGIC)
        return cc_err_set(e, "decision: bad magic 0x%08x", get32(b + D_MAGIC));
    if (get16(b + D_VERSION) != CC_PROTO_VERSION)
        return cc_err_set(e, "decision: unsupported version %u", get16(b + D_VERSION));
    d->instance_id = get64(b + D_INSTANCE);
    d->seq = get64(b + D_SEQ);
    d->timestamp_ns = get64(b + D_TIME);
    d->channel = get32(b + D_CHANNEL);
    d->module = get16(b + D_MODULE);
    d->verdict = b[D_VERDICT];
    d->reason = b[D_REASON];
    d->score = getf32(b + D_SCORE);
    d->cutoff = getf32(b + D_CUTOFF);
    d->latency_us = get32(b + D_LATENCY);
    d->run = get32(b + D_RUN);
    memcpy(d->classifier, b + D_CLASSIFIER, sizeof d->classifier - 1);
    memcpy(d->model, b + D_MODEL, sizeof d->model - 1);
    return 0;
}
