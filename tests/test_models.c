/* test_models.c - the shipped trained models still classify as documented.
 *
 * Each model card in conf/models that docs/MODELS.md documents is run through
 * the real `cryoclean eval` (nn plugin, the daemon's classify path) on the
 * held-out detector t2 (conf/train/sim-det-t2.yaml): a simulated class mix and
 * the IOR and IOS scans with their default seeds. The metrics must stay at or
 * above floors a little below the documented values - a broken engine,
 * preprocessing or weight file drops them far below. The TST takes ~3 min
 * under AddressSanitizer (its encoder loops are instrumented), so the
 * sanitizer build checks the other three; the plain build checks all four.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cc_eval.h"
#include "cc_test.h"

typedef struct shipped {
    const char *card;        /* conf/models/<card>.yaml */
    int mix, ior, ios;       /* records: class mix, IOR scan, IOS scan */
    double ba, ior_v, ios_v; /* floors */
} shipped;

static const shipped models[] = {
    /* card             mix   IOR   IOS    BA    IOR   IOS */
    {"cnn-default", 2000, 3000, 4000, 0.97, 0.985, 0.96},
    {"tscn-default", 2000, 3000, 4000, 0.96, 0.955, 0.965},
    {"lstm-default", 1000, 1000, 2000, 0.955, 0.985, 0.925},
    {"tst-default", 600, 600, 1200, 0.74, 0.98, 0.15},
};

static void check_model(const shipped *s)
{
    char exe[1024], plugins[1024], card[1024], sim[1024], dir[512], conf[600], json[600];
    char cmd[8192];
    CCT_BUILD("tools/cryoclean", exe);
    CCT_BUILD("plugins", plugins);
    snprintf(conf, sizeof conf, "conf/models/%s.yaml", s->card);
    CCT_SRC(conf, card);
    CCT_SRC("conf/train/sim-det-t2.yaml", sim);
    cct_tmpdir(dir, sizeof dir);
    snprintf(conf, sizeof conf, "%s/nn.yaml", dir);
    snprintf(json, sizeof json, "%s/eval.json", dir);
    char text[1200];
    snprintf(text, sizeof text, "model: %s\nthreads: 1\n", card);
    cct_write_file(conf, text, strlen(text));
    snprintf(cmd, sizeof cmd,
             "OPENBLAS_NUM_THREADS=1 %s eval --classifier nn --config %s --plugin-dir %s "
             "--simulate %d --sim %s --ior=%d --ios=%d --json %s -q",
             exe, conf, plugins, s->mix, sim, s->ior, s->ios, json);
    int st = system(cmd);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: eval failed (%d)", s->card, st);
    cc_eval_report r;
    cc_err e = {{0}};
    ck_assert_msg(cc_eval_read_json(json, &r, &e) == 0, "%s", e.msg);
    printf("%-12s BA %.4f recall %.4f selectivity %.4f IOR %.4f IOS %.4f\n", s->card, r.at.ba,
           r.at.recall, r.at.selectivity, r.ior_value, r.ios_value);
    ck_assert_str_eq(r.model, s->card);
    ck_assert_msg(r.at.ba >= s->ba, "%s: BA %.4f < %.2f", s->card, r.at.ba, s->ba);
    ck_assert_msg(r.ior_value >= s->ior_v, "%s: IOR %.4f < %.2f", s->card, r.ior_value, s->ior_v);
    ck_assert_msg(r.ios_value >= s->ios_v, "%s: IOS %.4f < %.2f", s->card, r.ios_value, s->ios_v);
    cc_eval_map_release(&r.ior);
    cc_eval_map_release(&r.ios);
}

START_TEST(shipped_models_meet_their_floors)
{
#ifdef __SANITIZE_ADDRESS__
    if (!strcmp(models[_i].card, "tst-default")) {
        printf("tst-default: not run under AddressSanitizer (see the top of this file)\n");
        return;
    }
#endif
    check_model(&models[_i]);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("models");
    TCase *t = tcase_create("models");
    tcase_set_timeout(t, 600);
    tcase_add_loop_test(t, shipped_models_meet_their_floors, 0,
                        (int)(sizeof models / sizeof models[0]));
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
