/* cc_yaml.h - YAML documents as a small tree with source positions.
 *
 * Configuration, model cards, scenarios and training configs are all YAML.
 * libyaml's event parser is turned into a tree of maps, sequences and
 * scalars; every node remembers file, line and column so that errors say
 * where they are ("conf/x.yaml:12:5: workers: expected an integer in
 * [1, 64], found 'many'"). Typed getters check ranges; cc_y_check_keys()
 * turns unknown keys into errors that list the known ones. Aliases and
 * anchors are refused (configuration should be explicit).
 *
 * Ownership: a cc_ydoc owns all its nodes and strings; nodes are valid until
 * cc_ydoc_free(). No globals; a document may be read from several threads.
 */
#ifndef CC_YAML_H
#define CC_YAML_H

#include <stddef.h>
#include <stdint.h>

#include "cc_err.h"

typedef enum { CC_Y_SCALAR = 1, CC_Y_MAP, CC_Y_SEQ } cc_ytype;

typedef struct cc_ynode cc_ynode;
struct cc_ynode {
    cc_ytype type;
    const char *file; /* owned by the document */
    int line, col;    /* 1-based position of the value */
    char *str;        /* scalar text (CC_Y_SCALAR) */
    int quoted;       /* scalar was single- or double-quoted */
    char *key;        /* key text when this node is a map value, else NULL */
    int key_line, key_col;
    cc_ynode **kids; /* map values (with key) or sequence items */
    size_t n;
};

typedef struct cc_ydoc {
    char *file;
    cc_ynode *root; /* NULL for an empty document */
} cc_ydoc;

/* Parses the YAML file at path. Returns NULL and fills e on I/O or syntax
 * errors (with file:line:col). */
cc_ydoc *cc_ydoc_load_file(const char *path, cc_err *e);

/* Parses len bytes of YAML text; name is used in error messages. */
cc_ydoc *cc_ydoc_load_string(const char *name, const char *text, size_t len, cc_err *e);

/* Frees the document and sets *doc to NULL. */
void cc_ydoc_free(cc_ydoc **doc);

/* Human name of a node type ("a mapping", "a sequence", "a scalar"). */
const char *cc_y_typename(cc_ytype t);

/* Formats "file:line:col: " for node n into buf. */
const char *cc_y_where(const cc_ynode *n, char *buf, size_t len);

/* Sets e to "file:line:col: <message>" at node n; returns -1. */
int cc_y_err(cc_err *e, const cc_ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns the value for key in map, or NULL if absent (or map is NULL or not a map). */
const cc_ynode *cc_y_get(const cc_ynode *map, const char *key);

/* Fails with a positioned error unless n is of type t; what names the item. */
int cc_y_expect(const cc_ynode *n, cc_ytype t, const char *what, cc_err *e);

/* Fails on the first key of map not in the NULL-terminated list known,
 * naming the key, its position and the known keys. */
int cc_y_check_keys(const cc_ynode *map, const char *const *known, cc_err *e);

/* Typed getters. Each looks up key in map; if absent returns 0 and leaves *out
 * unchanged when !required, or fails when required. A present value of the wrong
 * kind or out of [min, max] fails with the position, the expectation and what
 * was found. Return 0 on success, -1 on error. */
int cc_y_str(const cc_ynode *map, const char *key, int required, const char **out, cc_err *e);
int cc_y_i64(const cc_ynode *map, const char *key, int required, int64_t min, int64_t max,
             int64_t *out, cc_err *e);
int cc_y_f64(const cc_ynode *map, const char *key, int required, double min, double max,
             double *out, cc_err *e);
int cc_y_bool(const cc_ynode *map, const char *key, int required, int *out, cc_err *e);

/* Parses a scalar node itself (not a map entry) with the same rules. */
int cc_y_node_i64(const cc_ynode *n, int64_t min, int64_t max, int64_t *out, cc_err *e);
int cc_y_node_f64(const cc_ynode *n, double min, double max, double *out, cc_err *e);

/* Reads a sequence of numbers into a newly allocated array (*out, *n). */
int cc_y_f64_list(const cc_ynode *seq, double **out, size_t *n, cc_err *e);

/* Optional map entry key: [lo, hi] with min <= lo <= hi <= max into *lo, *hi
 * (unchanged when absent). 0, or -1 with e at the node (file:line:col). */
int cc_y_range(const cc_ynode *map, const char *key, double min, double max, double *lo, double *hi,
               cc_err *e);

#endif
