/* nn_json.h - a small, strict JSON parser (internal to lib/nn).
 *
 * Used for the safetensors header, which is untrusted input: RFC 8259 only
 * (no comments, no trailing commas, no NaN, no leading zeros), UTF-8 checked,
 * \u escapes with surrogate pairs decoded, duplicate object keys refused,
 * nesting limited to 64 levels. The whole tree lives in one arena so freeing
 * is a single call. Numbers keep their text and a double; integers that must
 * be exact (shapes, offsets) are read with nn_json_u64().
 */
#ifndef NN_JSON_H
#define NN_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "cc_err.h"

typedef enum { NN_J_NULL, NN_J_BOOL, NN_J_NUM, NN_J_STR, NN_J_ARR, NN_J_OBJ } nn_json_type;

typedef struct nn_json nn_json;
struct nn_json {
    nn_json_type type;
    size_t pos;     /* byte offset of the value in the text */
    char *str;      /* NN_J_STR: decoded UTF-8 (NUL-terminated, no embedded NUL) */
    char *num;      /* NN_J_NUM: the number's text */
    int boolean;    /* NN_J_BOOL */
    char **keys;    /* NN_J_OBJ: keys[i] names kids[i] */
    nn_json **kids; /* NN_J_ARR / NN_J_OBJ */
    size_t n;
};

typedef struct nn_json_doc nn_json_doc;

/* Parses len bytes of text; trailing white space is allowed, anything else
 * after the value is an error. Returns NULL with e ("byte 17: ...") on error. */
nn_json_doc *nn_json_parse(const char *text, size_t len, cc_err *e);

/* The root value of a parsed document. */
const nn_json *nn_json_root(const nn_json_doc *d);

/* Frees the document and sets *d to NULL. */
void nn_json_free(nn_json_doc **d);

/* Value of key in object o, or NULL. */
const nn_json *nn_json_get(const nn_json *o, const char *key);

/* Reads a number that must be a non-negative integer <= 2^53; 0 or -1. */
int nn_json_u64(const nn_json *v, uint64_t *out);

/* Human name of a JSON type ("an object", ...). */
const char *nn_json_typename(nn_json_type t);

#endif
