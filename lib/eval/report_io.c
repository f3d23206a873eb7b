/* report_io.c - the evaluation report as JSON and as a readable table.
 *
 * The JSON is one object (docs/EVAL.md): names, cutoff, n, the metrics at
 * the cutoff ("at"), the sweep, the classes, and the maps "ior" / "ios" with
 * their ranges and per-cell counts n and k (row-major, y outer) so a reader
 * can recompute every rate. Undefined ratios are null. Numbers are printed
 * with %.17g so a round trip is exact.
 *
 * Reading uses the project's YAML tree (JSON is valid YAML flow syntax), so
 * errors carry file:line:col like every other configuration error.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cc_eval.h"
#include "cc_yaml.h"

/* ---- writing ---- */

static void put_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}

static void put_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void put_metrics(FILE *f, const cc_eval_metrics *m)
{
    fputs("{\"cutoff\": ", f), put_num(f, m->cutoff);
    fprintf(f, ", \"tp\": %llu, \"fn\": %llu, \"tn\": %llu, \"fp\": %llu",
            (unsigned long long)m->c.tp, (unsigned long long)m->c.fn, (unsigned long long)m->c.tn,
            (unsigned long long)m->c.fp);
    const char *names[] = {"recall", "selectivity", "ba", "precision", "accuracy"};
    const double vals[] = {m->recall, m->selectivity, m->ba, m->precision, m->accuracy};
    for (int i = 0; i < 5; i++) fprintf(f, ", \"%s\": ", names[i]), put_num(f, vals[i]);
    fputc('}', f);
}

static void put_u64s(FILE *f, const char *key, const uint64_t *v, size_t n)
{
    fprintf(f, ",\n    \"%s\": [", key);
    for (size_t i = 0; i < n; i++) fprintf(f, "%s%llu", i ? ", " : "", (unsigned long long)v[i]);
    fputc(']', f);
}

static void put_map(FILE *f, const char *key, const cc_eval_map *m, double value, size_t empty)
{
    fprintf(f, ",\n  \"%s\": {\n    \"value\": ", key), put_num(f, value);
    fprintf(f, ",\n    \"empty_cells\": %zu,\n    \"what\": ", empty), put_str(f, m->what);
    fputs(",\n    \"x_label\": ", f), put_str(f, m->x_label);
    fputs(",\n    \"y_label\": ", f), put_str(f, m->y_label);
    fprintf(f, ",\n    \"x_log\": %s,\n    \"nx\": %zu, \"ny\": %zu,\n    \"x_range\": [",
            m->x_log ? "true" : "false", m->nx, m->ny);
    put_num(f, m->x_lo), fputs(", ", f), put_num(f, m->x_hi);
    fputs("], \"y_range\": [", f), put_num(f, m->y_lo), fputs(", ", f), put_num(f, m->y_hi);
    fputc(']', f);
    put_u64s(f, "n", m->n, m->nx * m->ny);
    put_u64s(f, "k", m->k, m->nx * m->ny);
    fputs("\n  }", f);
}

int cc_eval_write_json(const cc_eval_report *r, FILE *f, cc_err *e)
{
    fputs("{\n  \"classifier\": ", f), put_str(f, r->classifier);
    fputs(",\n  \"model\": ", f), put_str(f, r->model);
    fputs(",\n  \"source\": ", f), put_str(f, r->source);
    fputs(",\n  \"cutoff\": ", f), put_num(f, r->cutoff);
    fprintf(f, ",\n  \"n\": %zu,\n  \"at\": ", r->n), put_metrics(f, &r->at);
    fputs(",\n  \"sweep\": [", f);
    for (size_t i = 0; i < r->n_sweep; i++)
        fputs(i ? ",\n    " : "\n    ", f), put_metrics(f, &r->sweep[i]);
    fputs("\n  ]", f);
    if (r->has_classes) {
        fputs(",\n  \"classes\": [", f);
        int first = 1;
        for (int c = 0; c < CC_EVAL_NCLASS; c++) {
            if (!r->cls_n[c]) continue;
            const char *name = cc_sim_class_name(c);
            fprintf(f, "%s{\"id\": %d, \"name\": ", first ? "\n    " : ",\n    ", c);
            put_str(f, name ? name : "unknown");
            fprintf(f, ", \"clean\": %d, \"n\": %llu, \"accepted\": %llu}",
                    cc_sim_class_accept(c) == 1, (unsigned long long)r->cls_n[c],
                    (unsigned long long)r->cls_acc[c]);
            first = 0;
        }
        fputs("\n  ]", f);
    }
    if (r->has_ior) put_map(f, "ior", &r->ior, r->ior_value, r->ior_empty);
    if (r->has_ios) put_map(f, "ios", &r->ios, r->ios_value, r->ios_empty);
    fputs("\n}\n", f);
    if (fflush(f) || ferror(f)) return cc_err_set(e, "eval: writing the JSON report failed");
    return 0;
}

/* ---- reading ---- */

/* A number or null (NaN); absent keys are errors. */
static int get_num(const cc_ynode *map, const char *key, double *out, cc_err *e)
{
    const cc_ynode *n = cc_y_get(map, key);
    if (!n) return cc_y_err(e, map, "missing key '%s'", key);
    if (n->type == CC_Y_SCALAR && !n->quoted && strcmp(n->str, "null") == 0) {
        *out = NAN;
        return 0;
    }
    return cc_y_node_f64(n, -INFINITY, INFINITY, out, e) ? cc_err_prefix(e, "%s", key) : 0;
}

static int get_u64(const cc_ynode *map, const char *key, uint64_t *out, cc_err *e)
{
    int64_t v = 0;
    if (cc_y_i64(map, key, 1, 0, INT64_MAX, &v, e)) return -1;
    *out = (uint64_t)v;
    return 0;
}

static int get_text(const cc_ynode *map, const char *key, char *dst, size_t len, cc_err *e)
{
    const char *s = "";
    if (cc_y_str(map, key, 0, &s, e)) return -1;
    snprintf(dst, len, "%s", s);
    return 0;
}

static int get_metrics(const cc_ynode *n, cc_eval_metrics *m, cc_err *e)
{
    if (cc_y_expect(n, CC_Y_MAP, "metrics", e)) return -1;
    if (get_num(n, "cutoff", &m->cutoff, e) || get_u64(n, "tp", &m->c.tp, e) ||
        get_u64(n, "fn", &m->c.fn, e) || get_u64(n, "tn", &m->c.tn, e) ||
        get_u64(n, "fp", &m->c.fp, e))
        return -1;
    cc_eval_metrics_from(m);
    return 0;
}

static int get_u64_list(const cc_ynode *map, const char *key, uint64_t *out, size_t n, cc_err *e)
{
    const cc_ynode *s = cc_y_get(map, key);
    if (!s || cc_y_expect(s, CC_Y_SEQ, key, e))
        return s ? -1 : cc_y_err(e, map, "missing '%s'", key);
    if (s->n != n) return cc_y_err(e, s, "%s: expected %zu counts, found %zu", key, n, s->n);
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        if (cc_y_node_i64(s->kids[i], 0, INT64_MAX, &v, e)) return -1;
        out[i] = (uint64_t)v;
    }
    return 0;
}

static int get_range(const cc_ynode *map, const char *key, double *lo, double *hi, cc_err *e)
{
    const cc_ynode *s = cc_y_get(map, key);
    if (!s || cc_y_expect(s, CC_Y_SEQ, key, e))
        return s ? -1 : cc_y_err(e, map, "missing '%s'", key);
    if (s->n != 2) return cc_y_err(e, s, "%s: expected [lo, hi], found %zu items", key, s->n);
    return cc_y_node_f64(s->kids[0], -INFINITY, INFINITY, lo, e) ||
                   cc_y_node_f64(s->kids[1], -INFINITY, INFINITY, hi, e)
               ? -1
               : 0;
}

static int get_map(const cc_ynode *n, cc_eval_map *m, double *value, size_t *empty, cc_err *e)
{
    int64_t nx, ny, em;
    int xlog = 0;
    double xlo, xhi, ylo, yhi;
    if (cc_y_expect(n, CC_Y_MAP, "map", e) || cc_y_i64(n, "nx", 1, 1, 4096, &nx, e) ||
        cc_y_i64(n, "ny", 1, 1, 4096, &ny, e) || cc_y_bool(n, "x_log", 1, &xlog, e) ||
        get_range(n, "x_range", &xlo, &xhi, e) || get_range(n, "y_range", &ylo, &yhi, e) ||
        get_num(n, "value", value, e) || cc_y_i64(n, "empty_cells", 1, 0, INT64_MAX, &em, e))
        return -1;
    if (cc_eval_map_init(m, (size_t)nx, xlo, xhi, xlog, (size_t)ny, ylo, yhi, e))
        return cc_err_prefix(e, "%s:%d:%d", n->file, n->line, n->col);
    *empty = (size_t)em;
    if (get_text(n, "what", m->what, sizeof m->what, e) ||
        get_text(n, "x_label", m->x_label, sizeof m->x_label, e) ||
        get_text(n, "y_label", m->y_label, sizeof m->y_label, e) ||
        get_u64_list(n, "n", m->n, m->nx * m->ny, e) ||
        get_u64_list(n, "k", m->k, m->nx * m->ny, e))
        return -1;
    return 0;
}

static int read_root(const cc_ynode *root, cc_eval_report *r, cc_err *e)
{
    const cc_ynode *n;
    int64_t cnt;
    if (cc_y_expect(root, CC_Y_MAP, "evaluation report", e) ||
        get_text(root, "classifier", r->classifier, sizeof r->classifier, e) ||
        get_text(root, "model", r->model, sizeof r->model, e) ||
        get_text(root, "source", r->source, sizeof r->source, e) ||
        get_num(root, "cutoff", &r->cutoff, e) || cc_y_i64(root, "n", 1, 0, INT64_MAX, &cnt, e))
        return -1;
    r->n = (size_t)cnt;
    if (!(n = cc_y_get(root, "at"))) return cc_y_err(e, root, "missing key 'at'");
    if (get_metrics(n, &r->at, e)) return -1;
    if ((n = cc_y_get(root, "sweep"))) {
        if (cc_y_expect(n, CC_Y_SEQ, "sweep", e)) return -1;
        if (n->n > CC_EVAL_MAXCUT)
            return cc_y_err(e, n, "sweep: at most %d cutoffs, found %zu", CC_EVAL_MAXCUT, n->n);
        for (size_t i = 0; i < n->n; i++)
            if (get_metrics(n->kids[i], &r->sweep[i], e)) return -1;
        r->n_sweep = n->n;
    }
    if ((n = cc_y_get(root, "classes"))) {
        if (cc_y_expect(n, CC_Y_SEQ, "classes", e)) return -1;
        r->has_classes = 1;
        for (size_t i = 0; i < n->n; i++) {
            int64_t id;
            const cc_ynode *c = n->kids[i];
            if (cc_y_expect(c, CC_Y_MAP, "class", e) ||
                cc_y_i64(c, "id", 1, 0, CC_EVAL_NCLASS - 1, &id, e) ||
                get_u64(c, "n", &r->cls_n[id], e) || get_u64(c, "accepted", &r->cls_acc[id], e))
                return -1;
        }
    }
    if ((n = cc_y_get(root, "ior"))) {
        if (get_map(n, &r->ior, &r->ior_value, &r->ior_empty, e)) return -1;
        r->has_ior = 1;
    }
    if ((n = cc_y_get(root, "ios"))) {
        if (get_map(n, &r->ios, &r->ios_value, &r->ios_empty, e)) return -1;
        r->has_ios = 1;
    }
    return 0;
}

int cc_eval_read_json(const char *path, cc_eval_report *r, cc_err *e)
{
    cc_eval_report_init(r, "", "", "", NAN);
    cc_ydoc *doc = cc_ydoc_load_file(path, e);
    if (!doc) return -1;
    int rc = doc->root ? read_root(doc->root, r, e)
                       : cc_err_set(e, "%s: empty file, expected an evaluation report", path);
    cc_ydoc_free(&doc);
    if (rc) cc_eval_report_release(r);
    return rc;
}

/* ---- the table ---- */

static void row(FILE *f, const cc_eval_metrics *m)
{
    fprintf(f, "  %6.2f  %8.4f  %11.4f  %8.4f  %9.4f  %8llu %8llu %8llu %8llu\n", m->cutoff,
            m->recall, m->selectivity, m->ba, m->precision, (unsigned long long)m->c.tp,
            (unsigned long long)m->c.fn, (unsigned long long)m->c.tn, (unsigned long long)m->c.fp);
}

static void print_map(FILE *f, const char *name, const cc_eval_map *m, double v, size_t empty)
{
    uint64_t tot = 0;
    for (size_t i = 0; i < m->nx * m->ny; i++) tot += m->n[i];
    fprintf(f, "\n%s = %.4f  (%s over %zu x %zu cells of %s%s%s, %llu records, %zu empty)\n", name,
            v, m->what, m->nx, m->ny, m->x_label, m->ny > 1 ? " x " : "",
            m->ny > 1 ? m->y_label : "", (unsigned long long)tot, empty);
    if (m->ny != 1) return;
    fprintf(f, "  %-18s %8s %8s\n", "bin", m->what, "records");
    for (size_t i = 0; i < m->nx; i++)
        fprintf(f, "  %7.3g - %-8.3g %8.4f %8llu\n", cc_eval_map_edge_x(m, i),
                cc_eval_map_edge_x(m, i + 1), cc_eval_map_rate(m, i, 0),
                (unsigned long long)m->n[i]);
}

void cc_eval_print_table(const cc_eval_report *r, FILE *f)
{
    const char *hdr = "  cutoff    recall  selectivity        BA  precision        TP       FN "
                      "      TN       FP\n";
    fprintf(f, "classifier %s (model %s) on %s: %zu records\n\n", r->classifier, r->model,
            r->source, r->n);
    fputs(hdr, f);
    row(f, &r->at);
    if (r->n_sweep) {
        fputs("\nsweep over cutoffs (paper Fig. 4):\n", f);
        fputs(hdr, f);
        for (size_t i = 0; i < r->n_sweep; i++) row(f, &r->sweep[i]);
    }
    if (r->has_classes) {
        fprintf(f, "\nby class at cutoff %.2f:\n  %-12s %5s %8s %8s %8s\n", r->cutoff, "class",
                "truth", "records", "accepted", "correct");
        for (int c = 0; c < CC_EVAL_NCLASS; c++) {
            if (!r->cls_n[c]) continue;
            const char *name = cc_sim_class_name(c);
            int clean = cc_sim_class_accept(c) == 1;
            uint64_t ok = clean ? r->cls_acc[c] : r->cls_n[c] - r->cls_acc[c];
            fprintf(f, "  %-12s %5s %8llu %8llu %8.4f\n", name ? name : "unknown",
                    clean ? "clean" : "art.", (unsigned long long)r->cls_n[c],
                    (unsigned long long)r->cls_acc[c], (double)ok / (double)r->cls_n[c]);
        }
    }
    if (r->has_ior) print_map(f, "IOR", &r->ior, r->ior_value, r->ior_empty);
    if (r->has_ios) print_map(f, "IOS", &r->ios, r->ios_value, r->ios_empty);
}
