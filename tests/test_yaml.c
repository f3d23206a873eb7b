/* test_yaml.c - lib/util/cc_yaml.h: the positioned YAML tree and its getters.
 *
 * Every assertion names a value that changes if the feature breaks: node
 * types, exact 1-based line:col of values and keys, the quoted flag, and the
 * full text of error messages (file:line:col, what was expected, what was
 * found).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_test.h"
#include "cc_yaml.h"

static cc_ydoc *load(const char *text, cc_err *e)
{
    cc_err_clear(e);
    return cc_ydoc_load_string("t.yaml", text, strlen(text), e);
}

/* Loads text that must parse; aborts with the parser's message otherwise. */
static cc_ydoc *load_ok(const char *text)
{
    cc_err e;
    cc_ydoc *d = load(text, &e);
    ck_assert_msg(d != NULL, "unexpected error: %s", e.msg);
    return d;
}

/* Loads text that must fail and returns the message in e. */
static void load_fail(const char *text, cc_err *e)
{
    cc_ydoc *d = load(text, e);
    ck_assert_msg(d == NULL, "'%s' parsed but should not", text);
    ck_assert_msg(e->msg[0], "no error message for '%s'", text);
}

#define assert_pos(n, l, c)                                                                        \
    do {                                                                                           \
        ck_assert_int_eq((n)->line, l);                                                            \
        ck_assert_int_eq((n)->col, c);                                                             \
    } while (0)

static const char *sample = "a: 1\n"
                            "b:\n"
                            "  c: x\n"
                            "  d: 'q'\n"
                            "seq:\n"
                            "  - 1\n"
                            "  - \"two\"\n"
                            "lit: |\n"
                            "  text\n";

START_TEST(test_tree_and_positions)
{
    cc_ydoc *d = load_ok(sample);
    ck_assert_str_eq(d->file, "t.yaml");
    const cc_ynode *r = d->root;
    ck_assert_int_eq(r->type, CC_Y_MAP);
    assert_pos(r, 1, 1);
    ck_assert_uint_eq(r->n, 4);
    ck_assert_ptr_null(r->key);

    const cc_ynode *a = cc_y_get(r, "a");
    ck_assert_int_eq(a->type, CC_Y_SCALAR);
    ck_assert_str_eq(a->str, "1");
    ck_assert_str_eq(a->key, "a");
    ck_assert_str_eq(a->file, "t.yaml");
    assert_pos(a, 1, 4);
    ck_assert_int_eq(a->key_line, 1);
    ck_assert_int_eq(a->key_col, 1);

    const cc_ynode *b = cc_y_get(r, "b");
    ck_assert_int_eq(b->type, CC_Y_MAP);
    assert_pos(b, 3, 3);
    ck_assert_int_eq(b->key_line, 2);
    ck_assert_int_eq(b->key_col, 1);
    ck_assert_uint_eq(b->n, 2);
    const cc_ynode *c = cc_y_get(b, "c");
    ck_assert_str_eq(c->str, "x");
    assert_pos(c, 3, 6);
    ck_assert_int_eq(c->key_line, 3);
    ck_assert_int_eq(c->key_col, 3);
    const cc_ynode *q = cc_y_get(b, "d");
    ck_assert_str_eq(q->str, "q");
    assert_pos(q, 4, 6);

    const cc_ynode *s = cc_y_get(r, "seq");
    ck_assert_int_eq(s->type, CC_Y_SEQ);
    assert_pos(s, 6, 3);
    ck_assert_int_eq(s->key_line, 5);
    ck_assert_uint_eq(s->n, 2);
    ck_assert_str_eq(s->kids[0]->str, "1");
    ck_assert_ptr_null(s->kids[0]->key);
    assert_pos(s->kids[0], 6, 5);
    ck_assert_str_eq(s->kids[1]->str, "two");
    assert_pos(s->kids[1], 7, 5);

    ck_assert_str_eq(cc_y_get(r, "lit")->str, "text\n");

    /* map order is file order */
    ck_assert_str_eq(r->kids[0]->key, "a");
    ck_assert_str_eq(r->kids[3]->key, "lit");
    /* lookups that find nothing */
    ck_assert_ptr_null(cc_y_get(r, "missing"));
    ck_assert_ptr_null(cc_y_get(r, "A"));
    ck_assert_ptr_null(cc_y_get(s, "1"));
    ck_assert_ptr_null(cc_y_get(NULL, "a"));
    ck_assert_ptr_null(cc_y_get(a, "a"));

    char where[64];
    ck_assert_str_eq(cc_y_where(c, where, sizeof where), "t.yaml:3:6: ");
    ck_assert_str_eq(cc_y_where(NULL, where, sizeof where), "?: ");
    cc_err e;
    ck_assert_int_eq(cc_y_err(&e, q, "bad %s %d", "thing", 7), -1);
    ck_assert_str_eq(e.msg, "t.yaml:4:6: bad thing 7");
    ck_assert_int_eq(cc_y_err(NULL, q, "ignored"), -1);

    cc_ydoc_free(&d);
    ck_assert_ptr_null(d);
    cc_ydoc_free(&d); /* freeing NULL is a no-op */
}
END_TEST

START_TEST(test_quoted_flag)
{
    cc_ydoc *d = load_ok("plain: 007\nsingle: '007'\ndouble: \"007\"\nblock: |\n  007\n"
                         "flow: [a, 'b']\n");
    const cc_ynode *r = d->root;
    ck_assert_int_eq(cc_y_get(r, "plain")->quoted, 0);
    ck_assert_int_eq(cc_y_get(r, "single")->quoted, 1);
    ck_assert_int_eq(cc_y_get(r, "double")->quoted, 1);
    ck_assert_int_eq(cc_y_get(r, "block")->quoted, 0);
    ck_assert_str_eq(cc_y_get(r, "plain")->str, "007");
    ck_assert_str_eq(cc_y_get(r, "single")->str, "007");
    ck_assert_str_eq(cc_y_get(r, "double")->str, "007");
    const cc_ynode *f = cc_y_get(r, "flow");
    ck_assert_int_eq(f->kids[0]->quoted, 0);
    ck_assert_int_eq(f->kids[1]->quoted, 1);
    assert_pos(f->kids[1], 6, 11);
    cc_ydoc_free(&d);
}
END_TEST

START_TEST(test_duplicate_keys)
{
    cc_err e;
    load_fail("a: 1\nb: 2\na: 3\n", &e);
    ck_assert_str_eq(e.msg, "t.yaml:3:1: duplicate key 'a' (first at line 1)");
    /* nested maps: the duplicate is found in its own map only */
    load_fail("x:\n  k: 1\ny:\n  k: 2\n  j: 0\n  k: 3\n", &e);
    ck_assert_str_eq(e.msg, "t.yaml:6:3: duplicate key 'k' (first at line 4)");
    /* the same key in different maps is fine */
    cc_ydoc *d = load_ok("x: {k: 1}\ny: {k: 2}\n");
    ck_assert_str_eq(cc_y_get(cc_y_get(d->root, "y"), "k")->str, "2");
    cc_ydoc_free(&d);
}
END_TEST

START_TEST(test_aliases_and_anchors_refused)
{
    cc_err e;
    load_fail("a: 1\nb: *x\n", &e);
    ck_assert_str_eq(e.msg, "t.yaml:2:4: YAML aliases are not supported; write the value out");
    load_fail("a: &x 1\nb: *x\n", &e);
    ck_assert_msg(strstr(e.msg, "t.yaml:1:4:") == e.msg, "%s", e.msg);
    /* the header promises that anchors are refused too, even without an alias */
    load_fail("a: 1\nb: &x 2\n", &e);
    ck_assert_msg(strstr(e.msg, "t.yaml:2:4:") == e.msg && strstr(e.msg, "anchor"), "%s", e.msg);
    load_fail("a: &m {k: 1}\n", &e);
    ck_assert_msg(strstr(e.msg, "t.yaml:1:4:") == e.msg && strstr(e.msg, "anchor"), "%s", e.msg);
    load_fail("a: &s [1]\n", &e);
    ck_assert_msg(strstr(e.msg, "t.yaml:1:4:") == e.msg && strstr(e.msg, "anchor"), "%s", e.msg);
}
END_TEST

START_TEST(test_syntax_errors_positioned)
{
    cc_err e;
    load_fail("a: 1\n  b: 2\n", &e);
    ck_assert_str_eq(
        e.msg, "t.yaml:2:4: YAML syntax error: mapping values are not allowed in this context");
    load_fail("a: [1, 2\nb: 3\n", &e);
    ck_assert_msg(strstr(e.msg, "t.yaml:2:2: YAML syntax error: ") == e.msg, "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "flow sequence") != NULL, "%s", e.msg);
    load_fail("a: \"unterminated\n", &e);
    ck_assert_msg(strstr(e.msg, "t.yaml:") == e.msg && strstr(e.msg, "YAML syntax error"), "%s",
                  e.msg);
    load_fail("[a]: 1\n", &e);
    ck_assert_str_eq(e.msg, "t.yaml:1:1: mapping keys must be scalars, found a sequence");
    load_fail("a: 1\n---\nb: 2\n", &e);
    ck_assert_str_eq(e.msg, "t.yaml:2:1: only one YAML document is allowed");
}
END_TEST

START_TEST(test_files)
{
    char dir[256], path[512];
    cct_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/f.yaml", dir);
    const char *text = "top:\n  - {x: 1.5}\n";
    cct_write_file(path, text, strlen(text));
    cc_err e;
    cc_ydoc *d = cc_ydoc_load_file(path, &e);
    ck_assert_msg(d != NULL, "%s", e.msg);
    ck_assert_str_eq(d->file, path);
    const cc_ynode *x = cc_y_get(cc_y_get(d->root, "top")->kids[0], "x");
    ck_assert_str_eq(x->file, path);
    assert_pos(x, 2, 9);
    cc_ydoc_free(&d);

    const char *bad = "ok: 1\nbad: [\n";
    cct_write_file(path, bad, strlen(bad));
    ck_assert_ptr_null(cc_ydoc_load_file(path, &e));
    char want[600];
    snprintf(want, sizeof want, "%s:3:1: YAML syntax error", path);
    ck_assert_msg(strstr(e.msg, want) == e.msg, "%s", e.msg);

    snprintf(path, sizeof path, "%s/absent.yaml", dir);
    ck_assert_ptr_null(cc_ydoc_load_file(path, &e));
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    ck_assert_str_eq(e.msg, want);
}
END_TEST

START_TEST(test_empty_document)
{
    const char *empties[] = {"", "# only a comment\n", "\n\n", "---\n", "--- # start only\n"};
    for (size_t i = 0; i < sizeof empties / sizeof *empties; i++) {
        cc_ydoc *d = load_ok(empties[i]);
        ck_assert_msg(d->root == NULL, "'%s' should be an empty document", empties[i]);
        cc_ydoc_free(&d);
    }
    /* an explicit null is a value, not an empty document */
    cc_ydoc *d = load_ok("~\n");
    ck_assert_int_eq(d->root->type, CC_Y_SCALAR);
    ck_assert_str_eq(d->root->str, "~");
    cc_ydoc_free(&d);
    /* a lone scalar document */
    d = load_ok("hello\n");
    ck_assert_str_eq(d->root->str, "hello");
    assert_pos(d->root, 1, 1);
    cc_ydoc_free(&d);
}
END_TEST

/* "[[[...]]]" nested `depth` levels deep. */
static char *nested(int depth)
{
    char *t = malloc((size_t)depth * 2 + 4);
    int k = 0;
    for (int i = 0; i < depth; i++) t[k++] = '[';
    t[k++] = '1';
    for (int i = 0; i < depth; i++) t[k++] = ']';
    t[k++] = '\n';
    t[k] = '\0';
    return t;
}

START_TEST(test_nesting_limit)
{
    char *ok = nested(64), *deep = nested(65), *very = nested(5000);
    cc_ydoc *d = load_ok(ok);
    const cc_ynode *n = d->root;
    int levels = 0;
    while (n->type == CC_Y_SEQ) {
        ck_assert_uint_eq(n->n, 1);
        n = n->kids[0];
        levels++;
    }
    ck_assert_int_eq(levels, 64);
    ck_assert_str_eq(n->str, "1");
    cc_ydoc_free(&d);
    cc_err e;
    load_fail(deep, &e);
    ck_assert_str_eq(e.msg, "t.yaml:1:65: nesting deeper than 64 levels");
    load_fail(very, &e); /* no stack overflow, one clear error */
    ck_assert_str_eq(e.msg, "t.yaml:1:65: nesting deeper than 64 levels");
    /* block mappings count too */
    char text[8192];
    size_t k = 0;
    for (int i = 0; i < 70; i++)
        k += (size_t)snprintf(text + k, sizeof text - k, "%*sk%d:\n", 2 * i, "", i);
    snprintf(text + k, sizeof text - k, "%*sv\n", 140, "");
    load_fail(text, &e); /* the 65th mapping is the value of k63, at line 65 */
    ck_assert_str_eq(e.msg, "t.yaml:65:129: nesting deeper than 64 levels");
    free(ok);
    free(deep);
    free(very);
}
END_TEST

START_TEST(test_i64)
{
    cc_ydoc *d = load_ok("n: 42\nneg: -7\nbig: 101\nword: many\nfrac: 1.5\n"
                         "huge: 99999999999999999999\nlist: [1]\nempty:\n");
    const cc_ynode *r = d->root;
    cc_err e;
    int64_t v = -1;
    ck_assert_int_eq(cc_y_i64(r, "n", 1, 0, 100, &v, &e), 0);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(cc_y_i64(r, "neg", 1, -10, 10, &v, &e), 0);
    ck_assert_int_eq(v, -7);
    /* bounds are inclusive */
    ck_assert_int_eq(cc_y_i64(r, "n", 1, 42, 42, &v, &e), 0);
    ck_assert_int_eq(cc_y_i64(r, "big", 1, 0, 100, &v, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:3:6: big: expected an integer in [0, 100], found 101");
    ck_assert_int_eq(cc_y_i64(r, "neg", 1, 0, 100, &v, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:2:6: neg: expected an integer in [0, 100], found -7");
    ck_assert_int_eq(cc_y_i64(r, "word", 1, 1, 64, &v, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:4:7: word: expected an integer in [1, 64], found 'many'");
    ck_assert_int_eq(cc_y_i64(r, "frac", 1, 0, 9, &v, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:5:7: frac: expected an integer in [0, 9], found '1.5'");
    ck_assert_int_eq(cc_y_i64(r, "huge", 1, INT64_MIN, INT64_MAX, &v, &e), -1);
    ck_assert_msg(strstr(e.msg, "t.yaml:6:7: huge:") == e.msg, "%s", e.msg);
    ck_assert_int_eq(cc_y_i64(r, "list", 1, 0, 9, &v, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:7:7: list: expected a scalar, found a sequence");
    ck_assert_int_eq(cc_y_i64(r, "empty", 1, 0, 9, &v, &e), -1);
    ck_assert_msg(strstr(e.msg, "empty: expected an integer in [0, 9], found ''"), "%s", e.msg);
    /* failures leave *out alone */
    ck_assert_int_eq(v, 42);

    /* absent: optional leaves *out unchanged, required fails naming the key */
    v = 1234;
    ck_assert_int_eq(cc_y_i64(r, "absent", 0, 0, 9, &v, &e), 0);
    ck_assert_int_eq(v, 1234);
    ck_assert_int_eq(cc_y_i64(r, "absent", 1, 0, 9, &v, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:1:1: missing required key 'absent'");
    ck_assert_int_eq(cc_y_i64(NULL, "absent", 1, 0, 9, &v, &e), -1);
    ck_assert_str_eq(e.msg, "missing required key 'absent'");

    /* node form */
    ck_assert_int_eq(cc_y_node_i64(cc_y_get(r, "n"), 0, 50, &v, &e), 0);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(cc_y_node_i64(r, 0, 50, &v, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:1:1: value: expected an integer, found a mapping");
    cc_ydoc_free(&d);
}
END_TEST

START_TEST(test_f64)
{
    cc_ydoc *d = load_ok("x: 0.25\ne: -1.5e-3\nhi: 1.5\nnan: nan\ninf: .inf\nw: abc\nm: {a: 1}\n"
                         "sec:\n  deep: 3\n");
    const cc_ynode *r = d->root;
    cc_err e;
    double v = -99;
    ck_assert_int_eq(cc_y_f64(r, "x", 1, 0, 1, &v, &e), 0);
    ck_assert(v == 0.25);
    ck_assert_int_eq(cc_y_f64(r, "e", 1, -1, 1, &v, &e), 0);
    ck_assert(v == -1.5e-3);
    ck_assert_int_eq(cc_y_f64(r, "x", 1, 0.25, 0.25, &v, &e), 0);
    ck_assert_int_eq(cc_y_f64(r, "hi", 1, 0, 1, &v, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:3:5: hi: expected a number in [0, 1], found 1.5");
    ck_assert_int_eq(cc_y_f64(r, "nan", 1, -HUGE_VAL, HUGE_VAL, &v, &e), -1);
    ck_assert_msg(strstr(e.msg, "t.yaml:4:6: nan: expected a number") == e.msg &&
                      strstr(e.msg, "found 'nan'"),
                  "%s", e.msg);
    ck_assert_int_eq(cc_y_f64(r, "inf", 1, -HUGE_VAL, HUGE_VAL, &v, &e), -1);
    ck_assert_msg(strstr(e.msg, "found '.inf'") != NULL, "%s", e.msg);
    ck_assert_int_eq(cc_y_f64(r, "w", 1, 0, 1, &v, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:6:4: w: expected a number in [0, 1], found 'abc'");
    ck_assert_int_eq(cc_y_f64(r, "m", 1, 0, 1, &v, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:7:4: m: expected a scalar, found a mapping");
    ck_assert(v == 0.25);
    v = 7;
    ck_assert_int_eq(cc_y_f64(r, "absent", 0, 0, 1, &v, &e), 0);
    ck_assert(v == 7);
    /* a missing key inside a section names the section */
    ck_assert_int_eq(cc_y_f64(cc_y_get(r, "sec"), "rate", 1, 0, 1, &v, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:9:3: missing required key 'rate' in sec");
    ck_assert_int_eq(cc_y_node_f64(cc_y_get(r, "x"), 0, 0.2, &v, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:1:4: x: expected a number in [0, 0.2], found 0.25");
    cc_ydoc_free(&d);
}
END_TEST

START_TEST(test_bool_and_str)
{
    cc_ydoc *d = load_ok("t1: true\nt2: Yes\nt3: ON\nf1: false\nf2: no\nf3: Off\n"
                         "one: 1\nmaybe: maybe\ns: hello world\nq: 'x: y'\nseq: [a]\n");
    const cc_ynode *r = d->root;
    cc_err e;
    const char *yes[] = {"t1", "t2", "t3"}, *no[] = {"f1", "f2", "f3"};
    for (int i = 0; i < 3; i++) {
        int b = -1;
        ck_assert_int_eq(cc_y_bool(r, yes[i], 1, &b, &e), 0);
        ck_assert_int_eq(b, 1);
        ck_assert_int_eq(cc_y_bool(r, no[i], 1, &b, &e), 0);
        ck_assert_int_eq(b, 0);
    }
    int b = 5;
    ck_assert_int_eq(cc_y_bool(r, "maybe", 1, &b, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:8:8: maybe: expected true or false, found 'maybe'");
    ck_assert_int_eq(cc_y_bool(r, "one", 1, &b, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:7:6: one: expected true or false, found '1'");
    ck_assert_int_eq(b, 5);
    ck_assert_int_eq(cc_y_bool(r, "absent", 0, &b, &e), 0);
    ck_assert_int_eq(b, 5);
    ck_assert_int_eq(cc_y_bool(r, "absent", 1, &b, &e), -1);

    const char *s = NULL;
    ck_assert_int_eq(cc_y_str(r, "s", 1, &s, &e), 0);
    ck_assert_str_eq(s, "hello world");
    ck_assert_int_eq(cc_y_str(r, "q", 1, &s, &e), 0);
    ck_assert_str_eq(s, "x: y");
    ck_assert_int_eq(cc_y_str(r, "seq", 1, &s, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:11:6: seq: expected a scalar, found a sequence");
    ck_assert_str_eq(s, "x: y");
    s = "keep";
    ck_assert_int_eq(cc_y_str(r, "absent", 0, &s, &e), 0);
    ck_assert_str_eq(s, "keep");
    ck_assert_int_eq(cc_y_str(r, "absent", 1, &s, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:1:1: missing required key 'absent'");
    cc_ydoc_free(&d);
}
END_TEST

START_TEST(test_f64_list_and_expect)
{
    cc_ydoc *d = load_ok("l: [1, 2.5, -3e2]\nempty: []\nbad: [1, x]\nnested: [[1]]\ns: 3\n");
    const cc_ynode *r = d->root;
    cc_err e;
    double *v = NULL;
    size_t n = 99;
    ck_assert_int_eq(cc_y_f64_list(cc_y_get(r, "l"), &v, &n, &e), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert(v[0] == 1.0 && v[1] == 2.5 && v[2] == -300.0);
    free(v);
    ck_assert_int_eq(cc_y_f64_list(cc_y_get(r, "empty"), &v, &n, &e), 0);
    ck_assert_uint_eq(n, 0);
    free(v);
    n = 99;
    ck_assert_int_eq(cc_y_f64_list(cc_y_get(r, "bad"), &v, &n, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:3:10: value: expected a number in [-inf, inf], found 'x'");
    ck_assert_uint_eq(n, 99);
    ck_assert_int_eq(cc_y_f64_list(cc_y_get(r, "nested"), &v, &n, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:4:10: value: expected a number, found a sequence");
    ck_assert_int_eq(cc_y_f64_list(cc_y_get(r, "s"), &v, &n, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:5:4: s: expected a sequence, found a scalar");
    ck_assert_int_eq(cc_y_f64_list(NULL, &v, &n, &e), -1);
    ck_assert_str_eq(e.msg, "list: expected a sequence, found nothing");

    ck_assert_int_eq(cc_y_expect(r, CC_Y_MAP, "root", &e), 0);
    ck_assert_int_eq(cc_y_expect(cc_y_get(r, "l"), CC_Y_MAP, "l", &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:1:4: l: expected a mapping, found a sequence");
    ck_assert_int_eq(cc_y_expect(NULL, CC_Y_SCALAR, "thing", &e), -1);
    ck_assert_str_eq(e.msg, "thing: expected a scalar, found nothing");
    ck_assert_str_eq(cc_y_typename(CC_Y_SCALAR), "a scalar");
    ck_assert_str_eq(cc_y_typename(CC_Y_MAP), "a mapping");
    ck_assert_str_eq(cc_y_typename(CC_Y_SEQ), "a sequence");
    cc_ydoc_free(&d);
}
END_TEST

START_TEST(test_check_keys)
{
    cc_ydoc *d = load_ok("alpha: 1\nbeta: 2\nsect:\n  alpha: 1\n  gamma: 3\n");
    const cc_ynode *r = d->root;
    cc_err e;
    static const char *const top[] = {"alpha", "beta", "sect", NULL};
    static const char *const inner[] = {"alpha", "beta", NULL};
    static const char *const none[] = {NULL};
    ck_assert_int_eq(cc_y_check_keys(r, top, &e), 0);
    ck_assert_int_eq(cc_y_check_keys(cc_y_get(r, "sect"), inner, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:5:3: unknown key 'gamma' in sect (known: alpha, beta)");
    static const char *const partial[] = {"beta", "sect", NULL};
    ck_assert_int_eq(cc_y_check_keys(r, partial, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:1:1: unknown key 'alpha' (known: beta, sect)");
    ck_assert_int_eq(cc_y_check_keys(r, none, &e), -1);
    ck_assert_str_eq(e.msg, "t.yaml:1:1: unknown key 'alpha' (known: )");
    /* not a map: nothing to check */
    ck_assert_int_eq(cc_y_check_keys(cc_y_get(r, "beta"), none, &e), 0);
    ck_assert_int_eq(cc_y_check_keys(NULL, none, &e), 0);
    cc_ydoc_free(&d);
}
END_TEST

/* cc_err.h: the error values every getter above fills. */
START_TEST(test_err)
{
    cc_err e;
    ck_assert_int_eq(cc_err_set(&e, "%s:%d: %s", "f.yaml", 3, "bad"), -1);
    ck_assert_str_eq(e.msg, "f.yaml:3: bad");
    ck_assert_int_eq(cc_err_prefix(&e, "loading %s", "model"), -1);
    ck_assert_str_eq(e.msg, "loading model: f.yaml:3: bad");
    cc_err_clear(&e);
    ck_assert_str_eq(e.msg, "");
    ck_assert_int_eq(cc_err_set(NULL, "discarded %d", 1), -1);
    ck_assert_int_eq(cc_err_prefix(NULL, "discarded"), -1);
    cc_err_clear(NULL);
    /* long messages are cut at CC_ERR_MAX - 1 characters, never overflow */
    char big[2 * CC_ERR_MAX];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cc_err_set(&e, "%s", big);
    ck_assert_uint_eq(strlen(e.msg), CC_ERR_MAX - 1);
    cc_err_prefix(&e, "pre");
    ck_assert_uint_eq(strlen(e.msg), CC_ERR_MAX - 1);
    ck_assert_int_eq(strncmp(e.msg, "pre: xxx", 8), 0);
    /* the cleanup helper frees and nulls */
    char *p = malloc(10);
    cc_freep(&p);
    ck_assert_ptr_null(p);
    {
        CC_CLEANUP_FREE char *q = malloc(10);
        ck_assert_ptr_nonnull(q);
    } /* freed here; the sanitizer build reports a leak otherwise */
}
END_TEST

/* [lo, hi] ranges: read when valid, untouched when absent, positioned errors
 * for a wrong length, order or bound. */
START_TEST(test_range)
{
    cc_ydoc *d = load_ok("ok: [0.5, 2]\nrev: [3, 1]\nthree: [1, 2, 3]\nbig: [0, 20]\n");
    const cc_ynode *r = d->root;
    cc_err e;
    double lo = -1, hi = -1;
    ck_assert_int_eq(cc_y_range(r, "ok", 0, 10, &lo, &hi, &e), 0);
    ck_assert(lo == 0.5 && hi == 2);
    ck_assert_int_eq(cc_y_range(r, "absent", 0, 10, &lo, &hi, &e), 0);
    ck_assert(lo == 0.5 && hi == 2);
    const char *bad[] = {"rev", "three", "big"};
    const int line[] = {2, 3, 4};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(cc_y_range(r, bad[i], 0, 10, &lo, &hi, &e), -1);
        char want[32];
        snprintf(want, sizeof want, "t.yaml:%d:", line[i]);
        ck_assert_msg(strstr(e.msg, want) && strstr(e.msg, bad[i]), "%s", e.msg);
    }
    ck_assert(lo == 0.5 && hi == 2);
    cc_ydoc_free(&d);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("yaml");
    TCase *t = tcase_create("yaml");
    tcase_add_test(t, test_tree_and_positions);
    tcase_add_test(t, test_quoted_flag);
    tcase_add_test(t, test_range);
    tcase_add_test(t, test_duplicate_keys);
    tcase_add_test(t, test_aliases_and_anchors_refused);
    tcase_add_test(t, test_syntax_errors_positioned);
    tcase_add_test(t, test_files);
    tcase_add_test(t, test_empty_document);
    tcase_add_test(t, test_nesting_limit);
    tcase_add_test(t, test_i64);
    tcase_add_test(t, test_f64);
    tcase_add_test(t, test_bool_and_str);
    tcase_add_test(t, test_f64_list_and_expect);
    tcase_add_test(t, test_check_keys);
    tcase_add_test(t, test_err);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
