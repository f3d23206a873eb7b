/* cc_proto.h - wire protocol v1: records in, decisions out (docs/PROTOCOL.md).
 *
 * A record travels as a three-frame ZeroMQ message [topic][header][samples].
 * The header is a fixed little-endian structure of CC_REC_HDR_LEN bytes
 * (magic "CRYO", version, header length, ...), documented byte by byte in
 * docs/PROTOCOL.md. Encoding and decoding are explicit byte copies, so the
 * code is independent of host endianness and struct padding.
 *
 * Version rule: `version` is the major version; a receiver refuses any other.
 * Within v1, fields may only be appended: header_len grows and old receivers
 * skip the bytes they do not know. A header shorter than CC_REC_HDR_LEN is
 * invalid.
 *
 * A decision is a two-frame message [topic][decision] with a fixed
 * CC_DEC_LEN-byte little-endian body, also versioned.
 */
#ifndef CC_PROTO_H
#define CC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "cc_err.h"

#define CC_PROTO_VERSION 1
#define CC_REC_MAGIC     0x4f595243u /* bytes "CRYO" */
#define CC_DEC_MAGIC     0x44595243u /* bytes "CRYD" */
#define CC_REC_HDR_LEN   72
#define CC_DEC_LEN       96
#define CC_TOPIC_MAX     64

/* Sample encodings of the samples frame. */
enum cc_sample_type { CC_S_INT16 = 1, CC_S_INT32 = 2, CC_S_FLOAT32 = 3 };

/* Record header flags. */
#define CC_REC_F_TESTPULSE 0x1u /* the DAQ injected a heater test pulse */

/* A decoded record header (host order). */
typedef struct cc_rec_hdr {
    uint16_t version;
    uint16_t header_len;
    uint32_t flags;
    uint32_t channel;
    uint16_t module;
    uint8_t sample_type;
    uint64_t instance_id;  /* random per publisher start */
    uint64_t seq;          /* per publisher, starts anywhere, +1 per record */
    uint64_t timestamp_ns; /* event time, ns since the Unix epoch */
    uint32_t run;
    double adc_scale; /* volts per sample unit (1.0 for float32 volts) */
    float sample_rate_hz;
    uint32_t trigger_index; /* sample index of the trigger */
    uint32_t n_samples;
} cc_rec_hdr;

/* Why a message did not become an ordinary accept/reject decision. The
 * first CC_R_INVALID_FIRST..CC_R_NDECIDABLE-1 codes are answered with an
 * "invalid" decision; the codes from CC_R_NDECIDABLE on have no readable
 * identity and are only counted. */
typedef enum cc_reason {
    CC_R_ACCEPTED = 0,
    CC_R_REJECTED = 1, /* rejected by the classifier */
    CC_R_INVALID_FIRST = 2,
    CC_R_NAN = 2,               /* NaN or Inf samples */
    CC_R_ZERO_LENGTH = 3,       /* n_samples == 0 */
    CC_R_SAMPLE_TYPE = 4,       /* unknown sample type */
    CC_R_LENGTH_MISMATCH = 5,   /* samples frame size != n_samples * sample size */
    CC_R_TOO_LONG = 6,          /* n_samples above the configured limit */
    CC_R_TOO_SHORT = 7,         /* shorter than the classifier's input length */
    CC_R_NO_SAMPLES = 8,        /* header frame but no samples frame */
    CC_R_BAD_FIELD = 9,         /* sample rate, scale or trigger index out of range */
    CC_R_CLASSIFIER_ERROR = 10, /* the classifier failed on this batch or on this record */
    CC_R_NDECIDABLE = 11,
    CC_R_FRAME_COUNT = 11, /* not 3 frames (and identity unreadable) */
    CC_R_TRUNCATED = 12,   /* header frame shorter than CC_REC_HDR_LEN */
    CC_R_BAD_MAGIC = 13,
    CC_R_BAD_VERSION = 14,
    CC_R_OVERSIZED = 15, /* message above the configured byte limit */
    CC_R_COUNT = 16
} cc_reason;

/* Stable lower-case name of a reason ("nan", "bad_magic", ...), used in logs,
 * metrics and monitor messages. */
const char *cc_reason_name(cc_reason r);

/* Verdicts in a decision. */
enum cc_verdict { CC_V_REJECT = 0, CC_V_ACCEPT = 1, CC_V_INVALID = 2 };

/* A decoded decision (host order). */
typedef struct cc_decision {
    uint64_t instance_id, seq, timestamp_ns;
    uint32_t channel;
    uint16_t module;
    uint8_t verdict; /* enum cc_verdict */
    uint8_t reason;  /* cc_reason */
    float score;     /* P(clean) in [0,1]; NaN when invalid */
    float cutoff;
    uint32_t latency_us; /* receive to decision */
    uint32_t run;
    char classifier[16]; /* NUL-padded */
    char model[24];      /* NUL-padded */
} cc_decision;

/* Size in bytes of one sample of type t, or 0 if t is unknown. */
size_t cc_sample_size(uint8_t t);

/* Writes h as CC_REC_HDR_LEN bytes into buf (version and header_len are
 * taken as CC_PROTO_VERSION / CC_REC_HDR_LEN regardless of h). */
void cc_rec_hdr_encode(const cc_rec_hdr *h, uint8_t buf[CC_REC_HDR_LEN]);

/* Decodes a header frame of len bytes. Returns CC_R_ACCEPTED (0) when the
 * header is readable, else CC_R_TRUNCATED, CC_R_BAD_MAGIC or CC_R_BAD_VERSION
 * (in which case *h is not trustworthy). Field ranges are not checked here:
 * see cc_rec_validate(). */
cc_reason cc_rec_hdr_decode(const void *buf, size_t len, cc_rec_hdr *h);

/* Checks a readable header and its samples frame of samples_len bytes:
 * sample type, n_samples (0 < n <= max_samples), frame size, sample rate
 * (finite, > 0), adc_scale (finite, != 0) and trigger index (< n_samples).
 * Returns CC_R_ACCEPTED when valid, else the specific invalid reason. */
cc_reason cc_rec_validate(const cc_rec_hdr *h, size_t samples_len, uint32_t max_samples);

/* Converts the samples frame to volts (sample * adc_scale) into out[n_samples].
 * Returns CC_R_ACCEPTED, or CC_R_NAN if any converted value is not finite. */
cc_reason cc_rec_to_volts(const cc_rec_hdr *h, const void *samples, float *out);

/* Formats the record topic "rec/%03u/" for channel into buf; returns its length. */
int cc_topic_record(char *buf, size_t len, uint32_t channel);
/* Same for decisions: "dec/%03u/". */
int cc_topic_decision(char *buf, size_t len, uint32_t channel);

/* Writes d as CC_DEC_LEN bytes. */
void cc_decision_encode(const cc_decision *d, uint8_t buf[CC_DEC_LEN]);

/* Decodes a decision body; returns 0 or -1 (with e) on wrong size/magic/version. */
int cc_decision_decode(const void *buf, size_t len, cc_decision *d, cc_err *e);

#endif
