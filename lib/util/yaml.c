/* yaml.c - libyaml events to a positioned tree; see cc_yaml.h.
 *
 * The parser keeps an explicit stack of open containers. Keys of a mapping
 * must be scalars; the key scalar is held until its value node arrives and
 * is then stored on the value (key, key_line, key_col), so a map is simply a
 * node whose kids all carry keys. Duplicate keys are errors.
 */
#include "cc_yaml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define MAX_DEPTH 64

static void node_free(cc_ynode *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->n; i++) node_free(n->kids[i]);
    free(n->kids);
    free(n->str);
    free(n->key);
    free(n);
}

void cc_ydoc_free(cc_ydoc **doc)
{
    if (!doc || !*doc) return;
    node_free((*doc)->root);
    free((*doc)->file);
    free(*doc);
    *doc = NULL;
}

const char *cc_y_typename(cc_ytype t)
{
    switch (t) {
    case CC_Y_SCALAR:
        return "a scalar";
    case CC_Y_MAP:
        return "a mapping";
    case CC_Y_SEQ:
        return "a sequence";
    }
    return "nothing";
}

const char *cc_y_where(const cc_ynode *n, char *buf, size_t len)
{
    if (!n)
        snprintf(buf, len, "?: ");
    else
        snprintf(buf, len, "%s:%d:%d: ", n->file ? n->file : "?", n->line, n->col);
    return buf;
}

int cc_y_err(cc_err *e, const cc_ynode *n, const char *fmt, ...)
{
    if (!e) return -1;
    char where[256], msg[CC_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cc_y_where(n, where, sizeof where);
    return cc_err_set(e, "%s%s", where, msg);
}

static int add_kid(cc_ynode *parent, cc_ynode *kid)
{
    cc_ynode **k = realloc(parent->kids, (parent->n + 1) * sizeof *k);
    if (!k) return -1;
    parent->kids = k;
    parent->kids[parent->n++] = kid;
    return 0;
}

typedef struct {
    cc_ynode *stack[MAX_DEPTH];
    int depth;
    cc_ynode *pending_key; /* scalar key waiting for its value, per level */
    cc_ynode *keys[MAX_DEPTH];
    const char *file;
    cc_err *e;
} builder;

/* Attaches a finished or newly opened node to the current container. */
static int attach(builder *b, cc_ynode *n)
{
    if (b->depth == 0) return 0; /* root */
    cc_ynode *top = b->stack[b->depth - 1];
    if (top->type == CC_Y_SEQ) return add_kid(top, n) ? cc_err_set(b->e, "out of memory") : 0;
    /* mapping: n is either a key or a value */
    cc_ynode *key = b->keys[b->depth - 1];
    if (!key) {
        if (n->type != CC_Y_SCALAR)
            return cc_y_err(b->e, n, "mapping keys must be scalars, found %s",
                            cc_y_typename(n->type));
        for (size_t i = 0; i < top->n; i++)
            if (strcmp(top->kids[i]->key, n->str) == 0)
                return cc_y_err(b->e, n, "duplicate key '%s' (first at line %d)", n->str,
                                top->kids[i]->key_line);
        b->keys[b->depth - 1] = n;
        return 1; /* consumed as key */
    }
    n->key = key->str;
    key->str = NULL;
    n->key_line = key->line;
    n->key_col = key->col;
    node_free(key);
    b->keys[b->depth - 1] = NULL;
    return add_kid(top, n) ? cc_err_set(b->e, "out of memory") : 0;
}

static cc_ynode *new_node(builder *b, cc_ytype t, const yaml_event_t *ev)
{
    cc_ynode *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->type = t;
    n->file = b->file;
    n->line = (int)ev->start_mark.line + 1;
    n->col = (int)ev->start_mark.column + 1;
    return n;
}

static cc_ydoc *parse(yaml_parser_t *p, const char *name, cc_err *e)
{
    cc_ydoc *doc = calloc(1, sizeof *doc);
    if (!doc || !(doc->file = strdup(name))) {
        free(doc);
        cc_err_set(e, "out of memory");
        return NULL;
    }
    builder b = {.file = doc->file, .e = e};
    int done = 0, failed = 0, docs = 0;
    while (!done && !failed) {
        yaml_event_t ev;
        if (!yaml_parser_parse(p, &ev)) {
            cc_err_set(e, "%s:%zu:%zu: YAML syntax error: %s%s%s", name, p->problem_mark.line + 1,
                       p->problem_mark.column + 1, p->problem ? p->problem : "unknown",
                       p->context ? " " : "", p->context ? p->context : "");
            failed = 1;
            break;
        }
        cc_ynode *n = NULL;
        int r;
        const yaml_char_t *anchor =
            ev.type == YAML_SCALAR_EVENT           ? ev.data.scalar.anchor
            : ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.anchor
            : ev.type == YAML_MAPPING_START_EVENT  ? ev.data.mapping_start.anchor
                                                   : NULL;
        if (anchor) {
            cc_err_set(e, "%s:%zu:%zu: YAML anchors are not supported; write the value out", name,
                       ev.start_mark.line + 1, ev.start_mark.column + 1);
            failed = 1;
            yaml_event_delete(&ev);
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                cc_err_set(e, "%s:%zu:%zu: only one YAML document is allowed", name,
                           ev.start_mark.line + 1, ev.start_mark.column + 1);
                failed = 1;
            }
            break;
        case YAML_ALIAS_EVENT:
            cc_err_set(e, "%s:%zu:%zu: YAML aliases are not supported; write the value out", name,
                       ev.start_mark.line + 1, ev.start_mark.column + 1);
            failed = 1;
            break;
        case YAML_SCALAR_EVENT:
            if (!(n = new_node(&b, CC_Y_SCALAR, &ev)) ||
                !(n->str = strndup((const char *)ev.data.scalar.value, ev.data.scalar.length))) {
                node_free(n);
                failed = cc_err_set(e, "out of memory");
                break;
            }
            n->quoted = ev.data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                        ev.data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
            if (b.depth == 0) {
                if (ev.data.scalar.plain_implicit && ev.data.scalar.length == 0 &&
                    ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
                    node_free(n); /* "---" alone: an empty document, not "" */
                else
                    doc->root = n;
                break;
            }
            if ((r = attach(&b, n)) < 0) {
                node_free(n);
                failed = 1;
            }
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (b.depth >= MAX_DEPTH) {
                failed = cc_err_set(e, "%s:%zu:%zu: nesting deeper than %d levels", name,
                                    ev.start_mark.line + 1, ev.start_mark.column + 1, MAX_DEPTH);
                break;
            }
            n = new_node(&b, ev.type == YAML_MAPPING_START_EVENT ? CC_Y_MAP : CC_Y_SEQ, &ev);
            if (!n) {
                failed = cc_err_set(e, "out of memory");
                break;
            }
            if (b.depth == 0)
                doc->root = n;
            else if ((r = attach(&b, n)) != 0) {
                node_free(n);
                failed = 1;
                break;
            }
            b.keys[b.depth] = NULL;
            b.stack[b.depth++] = n;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            b.depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    for (int i = 0; i < b.depth; i++) node_free(b.keys[i]);
    if (failed) {
        cc_ydoc_free(&doc);
        return NULL;
    }
    return doc;
}

cc_ydoc *cc_ydoc_load_string(const char *name, const char *text, size_t len, cc_err *e)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        cc_err_set(e, "%s: cannot initialise the YAML parser", name);
        return NULL;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    cc_ydoc *d = parse(&p, name, e);
    yaml_parser_delete(&p);
    return d;
}

cc_ydoc *cc_ydoc_load_file(const char *path, cc_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cc_err_set(e, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        fclose(f);
        cc_err_set(e, "%s: cannot initialise the YAML parser", path);
        return NULL;
    }
    yaml_parser_set_input_file(&p, f);
    cc_ydoc *d = parse(&p, path, e);
    yaml_parser_delete(&p);
    fclose(f);
    return d;
}

const cc_ynode *cc_y_get(const cc_ynode *map, const char *key)
{
    if (!map || map->type != CC_Y_MAP) return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->kids[i]->key, key) == 0) return map->kids[i];
    return NULL;
}

int cc_y_expect(const cc_ynode *n, cc_ytype t, const char *what, cc_err *e)
{
    if (n && n->type == t) return 0;
    if (!n) return cc_err_set(e, "%s: expected %s, found nothing", what, cc_y_typename(t));
    return cc_y_err(e, n, "%s: expected %s, found %s", what, cc_y_typename(t),
                    cc_y_typename(n->type));
}

int cc_y_check_keys(const cc_ynode *map, const char *const *known, cc_err *e)
{
    if (!map || map->type != CC_Y_MAP) return 0;
    for (size_t i = 0; i < map->n; i++) {
        const cc_ynode *k = map->kids[i];
        int ok = 0;
        for (const char *const *p = known; *p; p++)
            if (strcmp(*p, k->key) == 0) ok = 1;
        if (ok) continue;
        char list[256] = "";
        size_t off = 0;
        for (const char *const *p = known; *p && off < sizeof list; p++)
            off +=
                (size_t)snprintf(list + off, sizeof list - off, "%s%s", p == known ? "" : ", ", *p);
        return cc_err_set(e, "%s:%d:%d: unknown key '%s'%s%s (known: %s)", k->file, k->key_line,
                          k->key_col, k->key, map->key ? " in " : "", map->key ? map->key : "",
                          list);
    }
    return 0;
}

static int scalar_of(const cc_ynode *map, const char *key, int required, const cc_ynode **out,
                     cc_err *e)
{
    const cc_ynode *n = cc_y_get(map, key);
    *out = NULL;
    if (!n) {
        if (!required) return 0;
        if (map)
            return cc_y_err(e, map, "missing required key '%s'%s%s", key, map->key ? " in " : "",
                            map->key ? map->key : "");
        return cc_err_set(e, "missing required key '%s'", key);
    }
    if (n->type != CC_Y_SCALAR)
        return cc_y_err(e, n, "%s: expected a scalar, found %s", key, cc_y_typename(n->type));
    *out = n;
    return 1;
}

int cc_y_node_i64(const cc_ynode *n, int64_t min, int64_t max, int64_t *out, cc_err *e)
{
    const char *who = n->key ? n->key : "value";
    if (n->type != CC_Y_SCALAR)
        return cc_y_err(e, n, "%s: expected an integer, found %s", who, cc_y_typename(n->type));
    char *end;
    errno = 0;
    long long v = strtoll(n->str, &end, 0);
    if (errno || end == n->str || *end)
        return cc_y_err(e, n, "%s: expected an integer in [%lld, %lld], found '%s'", who,
                        (long long)min, (long long)max, n->str);
    if (v < min || v > max)
        return cc_y_err(e, n, "%s: expected an integer in [%lld, %lld], found %lld", who,
                        (long long)min, (long long)max, v);
    *out = v;
    return 0;
}

int cc_y_node_f64(const cc_ynode *n, double min, double max, double *out, cc_err *e)
{
    const char *who = n->key ? n->key : "value";
    if (n->type != CC_Y_SCALAR)
        return cc_y_err(e, n, "%s: expected a number, found %s", who, cc_y_typename(n->type));
    char *end;
    errno = 0;
    double v = strtod(n->str, &end);
    if (errno || end == n->str || *end || !isfinite(v))
        return cc_y_err(e, n, "%s: expected a number in [%g, %g], found '%s'", who, min, max,
                        n->str);
    if (v < min || v > max)
        return cc_y_err(e, n, "%s: expected a number in [%g, %g], found %g", who, min, max, v);
    *out = v;
    return 0;
}

int cc_y_str(const cc_ynode *map, const char *key, int required, const char **out, cc_err *e)
{
    const cc_ynode *n;
    int r = scalar_of(map, key, required, &n, e);
    if (r <= 0) return r;
    *out = n->str;
    return 0;
}

int cc_y_i64(const cc_ynode *map, const char *key, int required, int64_t min, int64_t max,
             int64_t *out, cc_err *e)
{
    const cc_ynode *n;
    int r = scalar_of(map, key, required, &n, e);
    if (r <= 0) return r;
    return cc_y_node_i64(n, min, max, out, e);
}

int cc_y_f64(const cc_ynode *map, const char *key, int required, double min, double max,
             double *out, cc_err *e)
{
    const cc_ynode *n;
    int r = scalar_of(map, key, required, &n, e);
    if (r <= 0) return r;
    return cc_y_node_f64(n, min, max, out, e);
}

int cc_y_bool(const cc_ynode *map, const char *key, int required, int *out, cc_err *e)
{
    const cc_ynode *n;
    int r = scalar_of(map, key, required, &n, e);
    if (r <= 0) return r;
    static const char *const yes[] = {"true", "yes", "on", NULL};
    static const char *const no[] = {"false", "no", "off", NULL};
    for (int i = 0; yes[i]; i++)
        if (!strcasecmp(n->str, yes[i])) return (*out = 1), 0;
    for (int i = 0; no[i]; i++)
        if (!strcasecmp(n->str, no[i])) return (*out = 0), 0;
    return cc_y_err(e, n, "%s: expected true or false, found '%s'", key, n->str);
}

int cc_y_f64_list(const cc_ynode *seq, double **out, size_t *n, cc_err *e)
{
    if (cc_y_expect(seq, CC_Y_SEQ, seq && seq->key ? seq->key : "list", e)) return -1;
    double *v = calloc(seq->n ? seq->n : 1, sizeof *v);
    if (!v) return cc_err_set(e, "out of memory");
    for (size_t i = 0; i < seq->n; i++)
        if (cc_y_node_f64(seq->kids[i], -HUGE_VAL, HUGE_VAL, &v[i], e)) {
            free(v);
            return -1;
        }
    *out = v;
    *n = seq->n;
    return 0;
}

int cc_y_range(const cc_ynode *map, const char *key, double min, double max, double *lo, double *hi,
               cc_err *e)
{
    const cc_ynode *n = cc_y_get(map, key);
    if (!n) return 0;
    double *v = NULL;
    size_t k = 0;
    if (cc_y_f64_list(n, &v, &k, e)) return -1;
    int bad = k != 2 || !(v[0] >= min && v[1] >= v[0] && v[1] <= max);
    if (!bad) *lo = v[0], *hi = v[1];
    free(v);
    if (bad)
        return cc_y_err(e, n, "%s: expected [lo, hi] with %g <= lo <= hi <= %g", key, min, max);
    return 0;
}
