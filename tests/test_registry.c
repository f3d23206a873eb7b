/* test_registry.c - loading classifier plugins: the real `cuts`, bad names,
 * a missing file, a library without the entry point, and an ABI mismatch
 * (tests/plugins/badabi.c, built into the build's tests/ directory). */
#include <stdio.h>
#include <string.h>

#include "cc_registry.h"
#include "cc_test.h"

static cc_registry *plugins(void)
{
    cc_registry *r = cc_registry_new(cct_env("CC_PLUGIN_DIR"));
    ck_assert_ptr_nonnull(r);
    return r;
}

START_TEST(loads_cuts)
{
    cc_registry *r = plugins();
    cc_err e = {""};
    const cc_classifier_ops *ops = cc_registry_get(r, "cuts", &e);
    ck_assert_msg(ops != NULL, "%s", e.msg);
    ck_assert_uint_eq(ops->abi, CC_PLUGIN_ABI);
    ck_assert_uint_ge(ops->size, sizeof(cc_classifier_ops));
    ck_assert_str_eq(ops->name, "cuts");
    ck_assert_ptr_eq(cc_registry_get(r, "cuts", &e), ops); /* loaded once */

    cc_classifier c;
    ck_assert_int_eq(cc_classifier_create(r, "phonon-cuts", "cuts", NULL, ".", &c, &e), 0);
    ck_assert_str_eq(c.name, "phonon-cuts");
    ck_assert_str_eq(c.info.model, "cuts");
    ck_assert_uint_eq(c.info.input_len, 0);
    ck_assert_float_eq(c.info.default_cutoff, 0.5f);
    void *ws = c.ops->ws_new(c.inst, 8);
    ck_assert_ptr_nonnull(ws);
    c.ops->ws_free(c.inst, ws);
    cc_classifier_destroy(&c);
    ck_assert_ptr_null(c.ops);
    cc_registry_free(&r);
    ck_assert_ptr_null(r);
}
END_TEST

START_TEST(refuses_bad_names)
{
    cc_registry *r = plugins();
    const char *bad[] = {"../cuts", "a/b", "/etc/passwd", "..", "", "cuts.so", NULL};
    for (const char **b = bad; *b; b++) {
        cc_err e = {""};
        ck_assert_ptr_null(cc_registry_get(r, *b, &e));
        ck_assert_msg(strstr(e.msg, "invalid name"), "'%s': %s", *b, e.msg);
    }
    cc_registry_free(&r);
}
END_TEST

START_TEST(missing_plugin_names_the_path)
{
    cc_registry *r = plugins();
    cc_err e = {""};
    char path[4096];
    snprintf(path, sizeof path, "%s/nosuch.so", cct_env("CC_PLUGIN_DIR"));
    ck_assert_ptr_null(cc_registry_get(r, "nosuch", &e));
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, "cannot load"), "%s", e.msg);
    /* cc_classifier_create adds the classifier's name */
    cc_classifier c;
    ck_assert_int_eq(cc_classifier_create(r, "ch7", "nosuch", NULL, ".", &c, &e), -1);
    ck_assert_msg(strstr(e.msg, "classifier 'ch7'") && strstr(e.msg, path), "%s", e.msg);
    cc_registry_free(&r);
}
END_TEST

START_TEST(not_a_plugin)
{
    char dir[4096];
    cc_registry *r = cc_registry_new(CCT_BUILD("lib", dir));
    cc_err e = {""};
    ck_assert_ptr_null(cc_registry_get(r, "libcryoclean", &e));
    ck_assert_msg(strstr(e.msg, "does not export") && strstr(e.msg, CC_PLUGIN_SYMBOL), "%s", e.msg);
    cc_registry_free(&r);
}
END_TEST

START_TEST(abi_mismatch)
{
    char dir[4096], want[64];
    cc_registry *r = cc_registry_new(CCT_BUILD("tests", dir));
    cc_err e = {""};
    ck_assert_ptr_null(cc_registry_get(r, "badabi", &e));
    snprintf(want, sizeof want, "plugin ABI %d, this cryoclean needs ABI %d", CC_PLUGIN_ABI + 1,
             CC_PLUGIN_ABI);
    ck_assert_msg(strstr(e.msg, want) && strstr(e.msg, "badabi.so"), "%s", e.msg);
    cc_registry_free(&r);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, loads_cuts);
    tcase_add_test(tc, refuses_bad_names);
    tcase_add_test(tc, missing_plugin_names_the_path);
    tcase_add_test(tc, not_a_plugin);
    tcase_add_test(tc, abi_mismatch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cct_run(make_suite());
}
