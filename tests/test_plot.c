/* test_plot.c - the figures are real PNGs of the promised size, not blank,
 * and show the numbers they are given: an IOS map of selectivity 1 is
 * painted in the top colour of the ramp, one of selectivity 0 in the bottom
 * colour. Also the command line: `cryoclean eval --json --plots` and
 * `cryoclean plot KIND --in`. PNGs are decoded here (zlib inflate + the
 * five PNG row filters) rather than trusted by their size. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cc_plot.h"
#include "cc_test.h"

/* PLplot's driver loader (libltdl) and fontconfig (under cairo/pango) keep
 * allocations until exit by design; the sanitizer build would report them
 * as leaks of this program and of the cryoclean processes it starts. */
#define LSAN_LIBRARY_LEAKS "leak:libfontconfig.so\nleak:libltdl.so\nleak:libpango\n"
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return LSAN_LIBRARY_LEAKS;
}

/* ---- a minimal PNG reader: 8-bit RGB or RGBA, not interlaced ---- */

typedef struct image {
    unsigned w, h, ch;
    unsigned char *px; /* w * h * ch */
} image;

static unsigned be32(const unsigned char *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

static void read_png(const char *path, image *im)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: missing", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    unsigned char *buf = malloc((size_t)len), *idat = malloc((size_t)len);
    ck_assert_int_eq(fread(buf, 1, (size_t)len, f), len);
    fclose(f);
    ck_assert_msg(len > 8 && memcmp(buf, "\x89PNG\r\n\x1a\n", 8) == 0, "%s: not a PNG", path);
    ck_assert_msg(memcmp(buf + 12, "IHDR", 4) == 0, "%s: first chunk is not IHDR", path);
    im->w = be32(buf + 16), im->h = be32(buf + 20);
    int depth = buf[24], ctype = buf[25], interlace = buf[28];
    ck_assert_msg(depth == 8 && (ctype == 2 || ctype == 6) && interlace == 0,
                  "%s: depth %d colour type %d interlace %d", path, depth, ctype, interlace);
    im->ch = ctype == 6 ? 4 : 3;
    size_t ni = 0;
    for (long p = 8; p + 12 <= len;) {
        unsigned n = be32(buf + p);
        if (!memcmp(buf + p + 4, "IDAT", 4)) memcpy(idat + ni, buf + p + 8, n), ni += n;
        p += 12 + n;
    }
    size_t stride = (size_t)im->w * im->ch, raw_len = (stride + 1) * im->h;
    unsigned char *raw = malloc(raw_len);
    uLongf out = raw_len;
    ck_assert_int_eq(uncompress(raw, &out, idat, ni), Z_OK);
    ck_assert_uint_eq(out, raw_len);
    im->px = malloc(stride * im->h);
    for (unsigned y = 0; y < im->h; y++) {
        const unsigned char *s = raw + y * (stride + 1) + 1;
        unsigned char *d = im->px + y * stride, *up = y ? d - stride : NULL;
        int ft = s[-1];
        for (size_t x = 0; x < stride; x++) {
            int a = x >= im->ch ? d[x - im->ch] : 0, b = up ? up[x] : 0;
            int c = up && x >= im->ch ? up[x - im->ch] : 0, v = s[x];
            switch (ft) {
            case 1:
                v += a;
                break;
            case 2:
                v += b;
                break;
            case 3:
                v += (a + b) / 2;
                break;
            case 4:
                v += paeth(a, b, c);
                break;
            }
            d[x] = (unsigned char)v;
        }
    }
    free(buf), free(idat), free(raw);
}

/* Pixels within tol of (r, g, b). */
static size_t count_rgb(const image *im, int r, int g, int b, int tol)
{
    size_t n = 0;
    for (size_t i = 0; i < (size_t)im->w * im->h; i++) {
        const unsigned char *p = im->px + i * im->ch;
        n += abs(p[0] - r) <= tol && abs(p[1] - g) <= tol && abs(p[2] - b) <= tol;
    }
    return n;
}

/* Checks size and that the figure is not blank: enough non-white pixels
 * and several colours. Returns the decoded image (free im->px). */
static void check_figure(const char *path, image *im)
{
    read_png(path, im);
    ck_assert_uint_eq(im->w, CC_PLOT_WIDTH);
    ck_assert_uint_eq(im->h, CC_PLOT_HEIGHT);
    size_t total = (size_t)im->w * im->h, white = count_rgb(im, 255, 255, 255, 8);
    ck_assert_msg(total - white > total / 50, "%s: only %zu non-white pixels", path, total - white);
    ck_assert_msg(count_rgb(im, 0, 0, 0, 40) > 2000, "%s: no axes or text", path);
    ck_assert_msg(count_rgb(im, 31, 119, 180, 30) > 50, "%s: nothing in the data colour", path);
}

/* A report with a sweep, and IOR / IOS maps whose every cell has rate v. */
static void known_report(cc_eval_report *r, double v)
{
    float s[200];
    uint8_t l[200];
    for (int i = 0; i < 200; i++) s[i] = (float)(i % 100) / 100.0f, l[i] = (i % 100) >= 30;
    cc_eval_report_init(r, "test", "known", "unit test", 0.5);
    cc_eval_report_labels(r, s, l, NULL, 200);
    cc_err e = {""};
    ck_assert_int_eq(cc_eval_map_init(&r->ior, 10, 3, 300, 1, 1, 0, 1, &e), 0);
    ck_assert_int_eq(cc_eval_map_init(&r->ios, 8, 0, 300, 0, 5, 0.1, 1.0, &e), 0);
    snprintf(r->ior.what, sizeof r->ior.what, "recall");
    snprintf(r->ios.what, sizeof r->ios.what, "selectivity");
    for (size_t i = 0; i < 10; i++) r->ior.n[i] = 10, r->ior.k[i] = (uint64_t)(10 * v);
    for (size_t i = 0; i < 40; i++) r->ios.n[i] = 4, r->ios.k[i] = (uint64_t)(4 * v);
    r->ior_value = cc_eval_map_integral(&r->ior, &r->ior_empty);
    r->ios_value = cc_eval_map_integral(&r->ios, &r->ios_empty);
    r->has_ior = r->has_ios = 1;
}

START_TEST(report_figures_show_their_numbers)
{
    char dir[256], path[320];
    cct_tmpdir(dir, sizeof dir);
    cc_err e = {""};
    const int top[3] = {252, 232, 36}, bottom[3] = {69, 0, 84}; /* ends of the cmap1 ramp */
    size_t n_top[2], n_bottom[2];
    for (int pass = 0; pass < 2; pass++) {
        cc_eval_report r;
        known_report(&r, pass == 0 ? 1.0 : 0.0);
        ck_assert_double_eq(r.ios_value, pass == 0 ? 1.0 : 0.0);
        for (int k = CC_PLOT_SWEEP; k <= CC_PLOT_IOS; k++) {
            snprintf(path, sizeof path, "%s/%s-%d.png", dir, cc_plot_kind_name(k), pass);
            ck_assert_msg(cc_plot_draw(k, &r, NULL, 0.5, path, &e) == 0, "%s", e.msg);
            image im;
            if (k == CC_PLOT_IOS) {
                read_png(path, &im);
                n_top[pass] = count_rgb(&im, top[0], top[1], top[2], 12);
                n_bottom[pass] = count_rgb(&im, bottom[0], bottom[1], bottom[2], 12);
            } else {
                check_figure(path, &im);
            }
            free(im.px);
        }
        cc_eval_report_release(&r);
    }
    /* the map area is ~0.85 x 0.54 of the page; the colour bar alone is small */
    ck_assert_msg(n_top[0] > 150000 && n_top[1] < 5000, "top colour: %zu / %zu", n_top[0],
                  n_top[1]);
    ck_assert_msg(n_bottom[1] > 150000 && n_bottom[0] < 5000, "bottom colour: %zu / %zu",
                  n_bottom[1], n_bottom[0]);
}
END_TEST

START_TEST(set_figures_from_simulated_records)
{
    cc_registry *reg = cc_registry_new(cct_env("CC_PLUGIN_DIR"));
    cc_classifier cl;
    cc_err e = {""};
    ck_assert_msg(cc_classifier_create(reg, "cuts", "cuts", NULL, ".", &cl, &e) == 0, "%s", e.msg);
    cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_channels = 3; /* phonon, light and veto: 3 x 512 manifold rows */
    cc_sim_channel_preset(&cfg.ch[2], CC_SIM_VETO);
    cfg.ch[2].id = 2;
    cc_eval_set set = {0};
    cc_eval_report r;
    cc_eval_report_init(&r, cl.name, cl.info.model, "mix", 0.5);
    ck_assert_msg(cc_eval_mix(&cl, &cfg, 5, 240, 32, &set, &r, NULL, NULL, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(set.ch[2], 2);
    char dir[256], path[320];
    cct_tmpdir(dir, sizeof dir);
    ck_assert_msg(cc_plot_all(&r, &set, 0.5, dir, NULL, &e) == 4, "%s", e.msg); /* no IOR/IOS */
    const char *kinds[] = {"sweep", "spectrum", "manifold", "examples"};
    for (int k = 0; k < 4; k++) {
        image im;
        snprintf(path, sizeof path, "%s/%s.png", dir, kinds[k]);
        check_figure(path, &im);
        free(im.px);
    }
    snprintf(path, sizeof path, "%s/ior.png", dir);
    ck_assert_int_eq(cc_plot_draw(CC_PLOT_IOR, &r, NULL, 0.5, path, &e), -1);
    ck_assert_msg(strstr(e.msg, "no IOR"), "%s", e.msg);
    ck_assert_int_eq(cc_plot_draw(CC_PLOT_MANIFOLD, &r, NULL, 0.5, path, &e), -1);
    ck_assert_int_eq(cc_plot_draw(CC_PLOT_SWEEP, &r, NULL, 0.5, "/nonexistent/dir/x.png", &e), -1);
    ck_assert_msg(strstr(e.msg, "/nonexistent/dir/x.png"), "%s", e.msg);
    cc_eval_report_release(&r);
    cc_eval_set_release(&set);
    cc_classifier_destroy(&cl);
    cc_registry_free(&reg);
}
END_TEST

START_TEST(command_line)
{
    char dir[256], cmd[2048], path[320];
    cct_tmpdir(dir, sizeof dir);
    const char *exe = cct_env("CC_BUILD_ROOT");
    snprintf(path, sizeof path, "%s/lsan.supp", dir);
    cct_write_file(path, LSAN_LIBRARY_LEAKS, strlen(LSAN_LIBRARY_LEAKS));
    snprintf(cmd, sizeof cmd, "suppressions=%s", path);
    setenv("LSAN_OPTIONS", cmd, 1);
    snprintf(cmd, sizeof cmd,
             "%s/tools/cryoclean eval --classifier cuts --plugin-dir %s --simulate 150 "
             "--ior=150 --ios=150 --json %s/r.json --plots %s/p --quiet",
             exe, cct_env("CC_PLUGIN_DIR"), dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    const char *kinds[] = {"sweep", "ior", "ios", "spectrum", "manifold", "examples"};
    for (int k = 0; k < 6; k++) {
        image im;
        snprintf(path, sizeof path, "%s/p/%s.png", dir, kinds[k]);
        read_png(path, &im);
        ck_assert_uint_eq(im.w, CC_PLOT_WIDTH);
        free(im.px);
    }
    cc_eval_report r;
    cc_err e = {""};
    snprintf(path, sizeof path, "%s/r.json", dir);
    ck_assert_msg(cc_eval_read_json(path, &r, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(r.n, 150);
    ck_assert(r.has_ior && r.has_ios && r.n_sweep == 19 && r.has_classes);
    ck_assert(r.ior_value >= 0 && r.ior_value <= 1 && r.ios_value >= 0 && r.ios_value <= 1);
    cc_eval_report_release(&r);
    snprintf(cmd, sizeof cmd,
             "%s/tools/cryoclean plot ios --in %s/r.json -o %s/ios2.png >/dev/null", exe, dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    image im;
    snprintf(path, sizeof path, "%s/ios2.png", dir);
    read_png(path, &im);
    ck_assert_uint_eq(im.h, CC_PLOT_HEIGHT);
    free(im.px);
    /* usage errors are status 2 */
    snprintf(cmd, sizeof cmd, "%s/tools/cryoclean plot bogus -o x.png 2>/dev/null", exe);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd,
             "%s/tools/cryoclean plot manifold --in %s/r.json -o %s/m.png 2>/dev/null", exe, dir,
             dir);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("plot");
    TCase *t = tcase_create("plot");
    tcase_set_timeout(t, 200);
    tcase_add_test(t, report_figures_show_their_numbers);
    tcase_add_test(t, set_figures_from_simulated_records);
    tcase_add_test(t, command_line);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
