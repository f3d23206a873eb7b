/* json.c - see nn_json.h. A recursive-descent parser over a bump arena. */
#include "nn_json.h"

#include <stdlib.h>
#include <string.h>

#define NN_JSON_MAX_DEPTH 64

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[];
} arena_block;

struct nn_json_doc {
    arena_block *blocks;
    nn_json *root;
};

typedef struct {
    const char *s;
    size_t len, i;
    nn_json_doc *doc;
    cc_err *e;
} parser;

static void *arena_alloc(nn_json_doc *d, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    arena_block *b = d->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = d->blocks, b->used = 0, b->cap = cap;
        d->blocks = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

static int fail(parser *p, const char *what)
{
    if (p->i >= p->len) return cc_err_set(p->e, "byte %zu: %s (found end of header)", p->i, what);
    unsigned char c = (unsigned char)p->s[p->i];
    if (c >= 0x20 && c < 0x7f) return cc_err_set(p->e, "byte %zu: %s (found '%c')", p->i, what, c);
    return cc_err_set(p->e, "byte %zu: %s (found byte 0x%02x)", p->i, what, c);
}

static void skip_ws(parser *p)
{
    while (p->i < p->len &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static nn_json *new_value(parser *p, nn_json_type t)
{
    nn_json *v = arena_alloc(p->doc, sizeof *v);
    if (!v) {
        cc_err_set(p->e, "out of memory");
        return NULL;
    }
    memset(v, 0, sizeof *v);
    v->type = t, v->pos = p->i;
    return v;
}

static int hex4(parser *p, unsigned *out)
{
    if (p->len - p->i < 4) return fail(p, "expected 4 hex digits after \\u");
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return fail(p, "expected a hex digit in \\u escape");
        p->i++;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3f)), 2;
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18), o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Length of a valid UTF-8 sequence starting at s[0] (max n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t k;
    unsigned cp, min;
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0)
        k = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        k = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
        k = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (n < k) return 0;
    for (size_t j = 1; j < k; j++) {
        if ((s[j] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[j] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return k;
}

static char *parse_string(parser *p)
{
    p->i++; /* opening quote */
    size_t start = p->i;
    /* Decoded text is never longer than the source text. */
    size_t end = start;
    while (end < p->len && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->len) {
        p->i = p->len;
        fail(p, "unterminated string");
        return NULL;
    }
    char *out = arena_alloc(p->doc, end - start + 1);
    if (!out) {
        cc_err_set(p->e, "out of memory");
        return NULL;
    }
    size_t o = 0;
    while (p->s[p->i] != '"') {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c < 0x20) {
            fail(p, "control character in string");
            return NULL;
        }
        if (c != '\\') {
            size_t k = utf8_len((const unsigned char *)p->s + p->i, p->len - p->i);
            if (!k) {
                fail(p, "invalid UTF-8 in string");
                return NULL;
            }
            memcpy(out + o, p->s + p->i, k);
            o += k, p->i += k;
            continue;
        }
        p->i++;
        char esc = p->i < p->len ? p->s[p->i] : 0;
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *hit = esc ? strchr(from, esc) : NULL;
        if (hit) {
            out[o++] = to[hit - from];
            p->i++;
            continue;
        }
        if (esc != 'u') {
            fail(p, "invalid escape in string");
            return NULL;
        }
        p->i++;
        unsigned cp, lo;
        if (hex4(p, &cp)) return NULL;
        if (cp >= 0xdc00 && cp <= 0xdfff) {
            fail(p, "unpaired low surrogate in \\u escape");
            return NULL;
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (p->len - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u') {
                fail(p, "unpaired high surrogate in \\u escape");
                return NULL;
            }
            p->i += 2;
            if (hex4(p, &lo)) return NULL;
            if (lo < 0xdc00 || lo > 0xdfff) {
                fail(p, "invalid low surrogate in \\u escape");
                return NULL;
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (cp == 0) {
            fail(p, "\\u0000 is not allowed in names");
            return NULL;
        }
        o += put_utf8(out + o, cp);
    }
    p->i++; /* closing quote */
    out[o] = 0;
    return out;
}

static int digits(parser *p)
{
    size_t s = p->i;
    while (p->i < p->len && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
    return p->i > s ? 0 : fail(p, "expected a digit");
}

static nn_json *parse_number(parser *p)
{
    nn_json *v = new_value(p, NN_J_NUM);
    if (!v) return NULL;
    size_t s = p->i;
    if (p->s[p->i] == '-') p->i++;
    if (p->i < p->len && p->s[p->i] == '0') {
        p->i++;
        if (p->i < p->len && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
            fail(p, "leading zeros are not allowed in numbers");
            return NULL;
        }
    } else if (digits(p))
        return NULL;
    if (p->i < p->len && p->s[p->i] == '.') {
        p->i++;
        if (digits(p)) return NULL;
    }
    if (p->i < p->len && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->len && (p->s[p->i] == '+' || p->s[p->i] == '-')) p->i++;
        if (digits(p)) return NULL;
    }
    v->num = arena_alloc(p->doc, p->i - s + 1);
    if (!v->num) {
        cc_err_set(p->e, "out of memory");
        return NULL;
    }
    memcpy(v->num, p->s + s, p->i - s);
    v->num[p->i - s] = 0;
    return v;
}

static nn_json *parse_value(parser *p, int depth);

/* Parses the items of an array or object into a growing heap list, then
 * moves them into the arena. */
static nn_json *parse_container(parser *p, int depth, int is_obj)
{
    nn_json *v = new_value(p, is_obj ? NN_J_OBJ : NN_J_ARR);
    if (!v) return NULL;
    if (depth >= NN_JSON_MAX_DEPTH) {
        fail(p, "nesting deeper than 64 levels");
        return NULL;
    }
    p->i++;
    size_t cap = 0, n = 0;
    nn_json **kids = NULL;
    char **keys = NULL;
    int ok = 0;
    skip_ws(p);
    if (p->i < p->len && p->s[p->i] == (is_obj ? '}' : ']')) {
        p->i++;
        return v;
    }
    for (;;) {
        skip_ws(p);
        char *key = NULL;
        if (is_obj) {
            if (p->i >= p->len || p->s[p->i] != '"') {
                fail(p, "expected a string key");
                break;
            }
            size_t kpos = p->i;
            if (!(key = parse_string(p))) break;
            size_t j = 0;
            while (j < n && strcmp(keys[j], key)) j++;
            if (j < n) {
                p->i = kpos;
                fail(p, "duplicate key");
                cc_err_prefix(p->e, "key '%s'", key);
                break;
            }
            skip_ws(p);
            if (p->i >= p->len || p->s[p->i] != ':') {
                fail(p, "expected ':' after key");
                break;
            }
            p->i++;
        }
        nn_json *kid = parse_value(p, depth + 1);
        if (!kid) break;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            nn_json **nk = realloc(kids, cap * sizeof *nk);
            if (nk) kids = nk;
            char **nkeys = realloc(keys, cap * sizeof *nkeys);
            if (nkeys) keys = nkeys;
            if (!nk || !nkeys) {
                cc_err_set(p->e, "out of memory");
                break;
            }
        }
        kids[n] = kid, keys[n] = key, n++;
        skip_ws(p);
        if (p->i < p->len && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->len && p->s[p->i] == (is_obj ? '}' : ']')) {
            p->i++;
            ok = 1;
            break;
        }
        fail(p, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
        break;
    }
    if (ok) {
        v->kids = arena_alloc(p->doc, n * sizeof *kids);
        v->keys = is_obj ? arena_alloc(p->doc, n * sizeof *keys) : NULL;
        if (!v->kids || (is_obj && !v->keys)) {
            cc_err_set(p->e, "out of memory");
            ok = 0;
        } else {
            memcpy(v->kids, kids, n * sizeof *kids);
            if (is_obj) memcpy(v->keys, keys, n * sizeof *keys);
            v->n = n;
        }
    }
    free(kids);
    free(keys);
    return ok ? v : NULL;
}

static nn_json *parse_literal(parser *p, const char *word, nn_json_type t, int b)
{
    size_t k = strlen(word);
    if (p->len - p->i < k || memcmp(p->s + p->i, word, k)) {
        fail(p, "expected a JSON value");
        return NULL;
    }
    nn_json *v = new_value(p, t);
    if (v) v->boolean = b, p->i += k;
    return v;
}

static nn_json *parse_value(parser *p, int depth)
{
    skip_ws(p);
    if (p->i >= p->len) {
        fail(p, "expected a JSON value");
        return NULL;
    }
    char c = p->s[p->i];
    if (c == '{' || c == '[') return parse_container(p, depth, c == '{');
    if (c == '"') {
        nn_json *v = new_value(p, NN_J_STR);
        if (v && !(v->str = parse_string(p))) return NULL;
        return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p);
    if (c == 't') return parse_literal(p, "true", NN_J_BOOL, 1);
    if (c == 'f') return parse_literal(p, "false", NN_J_BOOL, 0);
    if (c == 'n') return parse_literal(p, "null", NN_J_NULL, 0);
    fail(p, "expected a JSON value");
    return NULL;
}

nn_json_doc *nn_json_parse(const char *text, size_t len, cc_err *e)
{
    nn_json_doc *d = calloc(1, sizeof *d);
    if (!d) {
        cc_err_set(e, "out of memory");
        return NULL;
    }
    parser p = {.s = text, .len = len, .doc = d, .e = e};
    d->root = parse_value(&p, 0);
    if (d->root) {
        skip_ws(&p);
        if (p.i < p.len) {
            fail(&p, "unexpected text after the JSON value");
            d->root = NULL;
        }
    }
    if (!d->root) nn_json_free(&d);
    return d;
}

const nn_json *nn_json_root(const nn_json_doc *d)
{
    return d ? d->root : NULL;
}

void nn_json_free(nn_json_doc **d)
{
    if (!d || !*d) return;
    arena_block *b = (*d)->blocks;
    while (b) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(*d);
    *d = NULL;
}

const nn_json *nn_json_get(const nn_json *o, const char *key)
{
    if (!o || o->type != NN_J_OBJ) return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->keys[i], key)) return o->kids[i];
    return NULL;
}

int nn_json_u64(const nn_json *v, uint64_t *out)
{
    if (!v || v->type != NN_J_NUM) return -1;
    uint64_t x = 0;
    for (const char *s = v->num; *s; s++) {
        if (*s < '0' || *s > '9') return -1; /* sign, fraction or exponent */
        if (x > (UINT64_C(1) << 53) / 10) return -1;
        x = x * 10 + (uint64_t)(*s - '0');
    }
    if (x > (UINT64_C(1) << 53)) return -1;
    *out = x;
    return 0;
}

const char *nn_json_typename(nn_json_type t)
{
    switch (t) {
    case NN_J_NULL:
        return "null";
    case NN_J_BOOL:
        return "a boolean";
    case NN_J_NUM:
        return "a number";
    case NN_J_STR:
        return "a string";
    case NN_J_ARR:
        return "an array";
    case NN_J_OBJ:
        return "an object";
    }
    return "?";
}
