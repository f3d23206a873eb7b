/* test_config.c - lib/config/cc_config.h: the daemon configuration.
 *
 * The shipped conf/cryoclean.yaml must parse with the documented values, a
 * configuration with every knob changed must be read back exactly, and each
 * class of mistake must be refused with file:line:col, what was expected and
 * what was found.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "cc_config.h"
#include "cc_test.h"

static cc_config *load(const char *text, cc_err *e)
{
    cc_err_clear(e);
    return cc_config_load_string("c.yaml", "/etc/cc", text, strlen(text), e);
}

static cc_config *load_ok(const char *text)
{
    cc_err e;
    cc_config *c = load(text, &e);
    ck_assert_msg(c != NULL, "unexpected error: %s", e.msg);
    return c;
}

/* The text must be refused with a message that starts with `where` and
 * contains each of the NULL-terminated fragments. */
static void refused(const char *text, const char *where, ...)
{
    cc_err e;
    cc_config *c = load(text, &e);
    ck_assert_msg(c == NULL, "accepted but should not be:\n%s", text);
    ck_assert_msg(strncmp(e.msg, where, strlen(where)) == 0, "expected '%s...', got: %s", where,
                  e.msg);
    va_list ap;
    va_start(ap, where);
    for (const char *f; (f = va_arg(ap, const char *));)
        ck_assert_msg(strstr(e.msg, f) != NULL, "'%s' missing from: %s", f, e.msg);
    va_end(ap);
}

START_TEST(test_shipped_default)
{
    char path[1024];
    CCT_SRC("conf/cryoclean.yaml", path);
    cc_err e;
    cc_config *c = cc_config_load_file(path, &e);
    ck_assert_msg(c != NULL, "%s", e.msg);
    ck_assert_str_eq(c->path, path);
    char dir[1024];
    CCT_SRC("conf", dir);
    ck_assert_str_eq(c->dir, dir);

    ck_assert_uint_eq(c->ninputs, 1);
    ck_assert_str_eq(c->inputs[0].endpoint, "tcp://127.0.0.1:5555");
    ck_assert_int_eq(c->inputs[0].kind, CC_SOCK_SUB);
    ck_assert_int_eq(c->inputs[0].bind, 0);
    ck_assert_uint_eq(c->inputs[0].nsubscribe, 1);
    ck_assert_str_eq(c->inputs[0].subscribe[0], "rec/");
    ck_assert_int_eq(c->inputs[0].hwm, 100000);

    ck_assert_str_eq(c->decisions.endpoint, "tcp://127.0.0.1:5556");
    ck_assert_str_eq(c->clean.endpoint, "tcp://127.0.0.1:5557");
    ck_assert_str_eq(c->monitor.endpoint, "tcp://127.0.0.1:5558");
    ck_assert_int_eq(c->decisions.bind, 1);
    ck_assert_int_eq(c->clean.bind, 1);
    ck_assert_int_eq(c->monitor.bind, 1);
    ck_assert_int_eq(c->out_hwm, 100000);
    ck_assert_str_eq(c->plugin_dir, "");

    /* the default classifier is the shipped CNN (nn plugin, conf/models/cnn-sev-default,
     * standard events learnt, cnn-default until then) */
    ck_assert_uint_eq(c->nclassifiers, 2);
    ck_assert_str_eq(c->classifiers[0].name, "cnn");
    ck_assert_str_eq(c->classifiers[0].plugin, "nn");
    ck_assert_ptr_nonnull(c->classifiers[0].config);
    ck_assert_str_eq(c->classifiers[1].name, "cuts");
    ck_assert_str_eq(c->classifiers[1].plugin, "cuts");
    ck_assert_ptr_null(c->classifiers[1].config);

    ck_assert_uint_eq(c->nchannels, 0);
    ck_assert_uint_eq(c->fallback.classifier, 0);
    ck_assert_float_eq(c->fallback.cutoff, 0.5f);
    ck_assert_ptr_eq(cc_config_channel(c, 7), &c->fallback);

    ck_assert_str_eq(c->control.endpoint, "tcp://127.0.0.1:5559");
    ck_assert_int_eq(c->control.bind, 1);
    ck_assert_int_eq(c->workers, 2);
    ck_assert_int_eq(c->max_batch, 64);
    ck_assert_int_eq(c->max_wait_ms, 5);
    ck_assert_int_eq(c->queue_capacity, 8192);
    ck_assert_uint_eq(c->max_samples, 1048576);
    ck_assert_uint_eq(c->max_message_bytes, 67108864);
    ck_assert(c->monitor_interval_s == 1.0);
    ck_assert_uint_eq(c->monitor_cfg.n_windows, 3);
    ck_assert_uint_eq(c->monitor_cfg.window_s[2], 600);
    ck_assert_int_eq(c->monitor_cfg.alert.enabled, 1);
    ck_assert_uint_eq(c->monitor_cfg.alert.bin_s, 10);
    ck_assert(c->monitor_cfg.alert.min_change == 2.0);
    ck_assert_ptr_nonnull(c->alert_notify);
    ck_assert_ptr_nonnull(c->metrics_node);
    ck_assert_int_eq(c->log_level, LOG_INFO);
    cc_config_free(&c);
    ck_assert_ptr_null(c);
    cc_config_free(&c);
}
END_TEST

/* Every knob different from its default, so a value that is not read shows. */
START_TEST(test_every_value_read)
{
    const char *text =
        "inputs:\n"
        "  - endpoint: tcp://10.0.0.1:7000\n"
        "    subscribe: [rec/001/, rec/002/]\n"
        "    hwm: 17\n"
        "  - {endpoint: ipc:///run/cc.sock, socket: pull, mode: bind}\n"
        "outputs:\n"
        "  decisions: {endpoint: 'tcp://*:7001', mode: connect}\n"
        "  clean: off\n"
        "  hwm: 33\n"
        "plugin_dir: plugins\n"
        "classifiers:\n"
        "  cuts: {plugin: cuts}\n"
        "  nn: {plugin: nn, config: {model: m.yaml}}\n"
        "channels:\n"
        "  7: {classifier: nn, cutoff: 0.625}\n"
        "  100-163: {classifier: nn}\n"
        "  default: {classifier: cuts, cutoff: 0.25}\n"
        "processing: {workers: 7, max_batch: 9, max_wait_ms: 0, queue_capacity: 11,\n"
        "             max_samples: 4096, max_message_bytes: 2048}\n"
        "monitor: {interval_s: 0.25}\n"
        "metrics: {}\n"
        "log: {level: debug}\n";
    cc_config *c = load_ok(text);
    ck_assert_str_eq(c->path, "c.yaml");
    ck_assert_str_eq(c->dir, "/etc/cc");
    ck_assert_uint_eq(c->ninputs, 2);
    ck_assert_str_eq(c->inputs[0].endpoint, "tcp://10.0.0.1:7000");
    ck_assert_int_eq(c->inputs[0].kind, CC_SOCK_SUB);
    ck_assert_int_eq(c->inputs[0].bind, 0);
    ck_assert_uint_eq(c->inputs[0].nsubscribe, 2);
    ck_assert_str_eq(c->inputs[0].subscribe[0], "rec/001/");
    ck_assert_str_eq(c->inputs[0].subscribe[1], "rec/002/");
    ck_assert_int_eq(c->inputs[0].hwm, 17);
    ck_assert_str_eq(c->inputs[1].endpoint, "ipc:///run/cc.sock");
    ck_assert_int_eq(c->inputs[1].kind, CC_SOCK_PULL);
    ck_assert_int_eq(c->inputs[1].bind, 1);
    ck_assert_uint_eq(c->inputs[1].nsubscribe, 0);
    ck_assert_int_eq(c->inputs[1].hwm, 100000);

    ck_assert_str_eq(c->decisions.endpoint, "tcp://*:7001");
    ck_assert_int_eq(c->decisions.bind, 0);
    ck_assert_str_eq(c->clean.endpoint, "");   /* off */
    ck_assert_str_eq(c->monitor.endpoint, ""); /* absent */
    ck_assert_int_eq(c->out_hwm, 33);
    ck_assert_str_eq(c->plugin_dir, "plugins");

    ck_assert_uint_eq(c->nclassifiers, 2);
    ck_assert_str_eq(c->classifiers[1].name, "nn");
    ck_assert_str_eq(c->classifiers[1].plugin, "nn");
    ck_assert_ptr_nonnull(c->classifiers[1].config);
    ck_assert_str_eq(cc_y_get(c->classifiers[1].config, "model")->str, "m.yaml");
    ck_assert_int_eq(c->classifiers[1].config->line, 13);

    ck_assert_uint_eq(c->nchannels, 2);
    ck_assert_uint_eq(c->channels[0].first, 7);
    ck_assert_uint_eq(c->channels[0].last, 7);
    ck_assert_uint_eq(c->channels[0].classifier, 1);
    ck_assert_float_eq(c->channels[0].cutoff, 0.625f);
    ck_assert_uint_eq(c->channels[1].first, 100);
    ck_assert_uint_eq(c->channels[1].last, 163);
    ck_assert(isnan(c->channels[1].cutoff)); /* the classifier's default */
    ck_assert_uint_eq(c->fallback.classifier, 0);
    ck_assert_float_eq(c->fallback.cutoff, 0.25f);

    ck_assert_int_eq(c->workers, 7);
    ck_assert_int_eq(c->max_batch, 9);
    ck_assert_int_eq(c->max_wait_ms, 0);
    ck_assert_int_eq(c->queue_capacity, 11);
    ck_assert_uint_eq(c->max_samples, 4096);
    ck_assert_uint_eq(c->max_message_bytes, 2048);
    ck_assert(c->monitor_interval_s == 0.25);
    ck_assert_ptr_nonnull(c->metrics_node);
    ck_assert_int_eq(c->log_level, LOG_DEBUG);
    cc_config_free(&c);
}
END_TEST

/* A minimal valid configuration, then mistakes in each section. */
#define INPUT    "inputs:\n  - {endpoint: tcp://127.0.0.1:6000, socket: pull, mode: bind}\n"
#define OUTPUT   "outputs:\n  decisions: {endpoint: tcp://127.0.0.1:6001}\n"
#define CLASSIFY "classifiers:\n  cuts: {plugin: cuts}\n  nn: {plugin: nn}\n"
#define CHANNELS "channels:\n  default: {classifier: cuts}\n"
#define BASE     INPUT OUTPUT CLASSIFY CHANNELS /* 9 lines */

START_TEST(test_minimal)
{
    cc_config *c = load_ok(BASE);
    ck_assert_int_eq(c->workers, 2);
    ck_assert(isnan(c->fallback.cutoff));
    ck_assert_int_eq(c->inputs[0].kind, CC_SOCK_PULL);
    ck_assert_uint_eq(c->inputs[0].nsubscribe, 0);
    ck_assert_str_eq(c->clean.endpoint, "");
    ck_assert_int_eq(c->log_level, LOG_INFO);
    cc_config_free(&c);

    /* a SUB input without `subscribe` takes every record topic */
    c = load_ok("inputs:\n  - {endpoint: tcp://127.0.0.1:6000}\n" OUTPUT CLASSIFY CHANNELS);
    ck_assert_int_eq(c->inputs[0].kind, CC_SOCK_SUB);
    ck_assert_int_eq(c->inputs[0].bind, 0);
    ck_assert_uint_eq(c->inputs[0].nsubscribe, 1);
    ck_assert_str_eq(c->inputs[0].subscribe[0], "rec/");
    cc_config_free(&c);

    /* the log levels map to syslog priorities */
    const char *names[] = {"err", "warning", "notice", "info", "debug"};
    const int prio[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG};
    for (int i = 0; i < 5; i++) {
        char text[1024];
        snprintf(text, sizeof text, BASE "log: {level: %s}\n", names[i]);
        c = load_ok(text);
        ck_assert_int_eq(c->log_level, prio[i]);
        cc_config_free(&c);
    }
}
END_TEST

START_TEST(test_unknown_keys)
{
    refused(BASE "procesing: {workers: 2}\n", "c.yaml:10:1: unknown key 'procesing' (known: ",
            "inputs, outputs, plugin_dir, classifiers, channels, processing, monitor, metrics, "
            "log)",
            NULL);
    refused(
        "inputs:\n  - endpoint: tcp://127.0.0.1:6000\n    sockt: pull\n" OUTPUT CLASSIFY CHANNELS,
        "c.yaml:3:5: unknown key 'sockt'", "(known: endpoint, socket, mode, subscribe, hwm)", NULL);
    refused(INPUT "outputs:\n  decision: {endpoint: tcp://127.0.0.1:6001}\n" CLASSIFY CHANNELS,
            "c.yaml:4:3: unknown key 'decision' in outputs",
            "(known: decisions, clean, monitor, control, hwm)", NULL);
    refused(
        INPUT
        "outputs:\n  decisions: {endpoint: tcp://127.0.0.1:6001, bind: true}\n" CLASSIFY CHANNELS,
        "c.yaml:4:47: unknown key 'bind' in decisions", "(known: endpoint, mode)", NULL);
    refused(INPUT OUTPUT "classifiers:\n  cuts: {plugin: cuts, cfg: {}}\n" CHANNELS,
            "c.yaml:6:24: unknown key 'cfg' in cuts", "(known: plugin, config)", NULL);
    refused(INPUT OUTPUT CLASSIFY "channels:\n  default: {classifier: cuts, cut: 0.5}\n",
            "c.yaml:9:31: unknown key 'cut' in default", "(known: classifier, cutoff)", NULL);
    refused(BASE "processing:\n  threads: 4\n", "c.yaml:11:3: unknown key 'threads' in processing",
            "workers, max_batch", NULL);
    refused(BASE "log: {level: verbose}\n", "c.yaml:10:14: level: expected one of err, warning",
            "found 'verbose'", NULL);
}
END_TEST

START_TEST(test_inputs)
{
    refused("inputs:\n  - {endpoint: tcp://127.0.0.1:6000, socket: pub}\n" OUTPUT CLASSIFY CHANNELS,
            "c.yaml:2:46: socket: expected 'sub' or 'pull', found 'pub'", NULL);
    refused(
        "inputs:\n  - {endpoint: tcp://127.0.0.1:6000, mode: listen}\n" OUTPUT CLASSIFY CHANNELS,
        "c.yaml:2:44: mode: expected 'bind' or 'connect', found 'listen'", NULL);
    refused("inputs:\n  - {socket: pull}\n" OUTPUT CLASSIFY CHANNELS,
            "c.yaml:2:5: missing required key 'endpoint'", NULL);
    refused("inputs: []\n" OUTPUT CLASSIFY CHANNELS,
            "c.yaml:1:9: inputs: at least one input is needed", NULL);
    refused("inputs: {endpoint: tcp://127.0.0.1:6000}\n" OUTPUT CLASSIFY CHANNELS,
            "c.yaml:1:9: inputs: expected a sequence, found a mapping", NULL);
    refused(OUTPUT CLASSIFY CHANNELS, "c.yaml:1:1: missing required key 'inputs'", NULL);
    refused("inputs:\n  - {endpoint: tcp://127.0.0.1:6000, hwm: -1}\n" OUTPUT CLASSIFY CHANNELS,
            "c.yaml:2:43: hwm: expected an integer in [0, 100000000], found -1", NULL);
    /* a PULL socket has no topics */
    refused(
        "inputs:\n  - {endpoint: tcp://127.0.0.1:6000, socket: pull, subscribe: [rec/]}\n" OUTPUT
            CLASSIFY CHANNELS,
        "c.yaml:2:63: subscribe: only a 'sub' socket subscribes to topics", NULL);
    /* a bad subscribe item, in the second input (the first is complete) */
    refused(
        INPUT
        "  - {endpoint: tcp://127.0.0.1:6002, subscribe: [rec/, [x]]}\n" OUTPUT CLASSIFY CHANNELS,
        "c.yaml:3:56: subscribe item: expected a scalar, found a sequence", NULL);
}
END_TEST

START_TEST(test_endpoints)
{
    refused("inputs:\n  - {endpoint: udp://127.0.0.1:6000}\n" OUTPUT CLASSIFY CHANNELS,
            "c.yaml:2:16: endpoint 'udp://127.0.0.1:6000': expected tcp://HOST:PORT, ipc://PATH "
            "or inproc://NAME",
            NULL);
    refused("inputs:\n  - {endpoint: tcp://127.0.0.1}\n" OUTPUT CLASSIFY CHANNELS,
            "c.yaml:2:16: endpoint 'tcp://127.0.0.1': expected tcp://HOST:PORT", NULL);
    refused("inputs:\n  - {endpoint: 'tcp://'}\n" OUTPUT CLASSIFY CHANNELS,
            "c.yaml:2:16: endpoint 'tcp://': expected", NULL);
    refused("inputs:\n  - {endpoint: 127.0.0.1:6000}\n" OUTPUT CLASSIFY CHANNELS,
            "c.yaml:2:16: endpoint '127.0.0.1:6000'", NULL);
    refused(INPUT "outputs:\n  monitor: {endpoint: 'ipc://'}\n" CLASSIFY CHANNELS,
            "c.yaml:4:23: endpoint 'ipc://'", NULL);
    refused(INPUT "outputs:\n  decisions: tcp://127.0.0.1:6001\n" CLASSIFY CHANNELS,
            "c.yaml:4:14: decisions: expected a mapping, found a scalar", NULL);
    /* the check on its own */
    cc_err e;
    ck_assert_int_eq(cc_config_check_endpoint(NULL, "tcp://host:1", &e), 0);
    ck_assert_int_eq(cc_config_check_endpoint(NULL, "tcp://*:5555", &e), 0);
    ck_assert_int_eq(cc_config_check_endpoint(NULL, "ipc:///tmp/x", &e), 0);
    ck_assert_int_eq(cc_config_check_endpoint(NULL, "inproc://x", &e), 0);
    ck_assert_int_eq(cc_config_check_endpoint(NULL, "inproc://", &e), -1);
    ck_assert_int_eq(cc_config_check_endpoint(NULL, "tcp://127.0.0.1:", &e), -1);
    ck_assert_str_eq(e.msg, "?: endpoint 'tcp://127.0.0.1:': expected tcp://HOST:PORT");
    ck_assert_int_eq(cc_config_check_endpoint(NULL, "TCP://host:1", &e), -1);
    /* an endpoint longer than the buffer is refused, not cut */
    char text[2048], ep[400];
    memset(ep, 'a', sizeof ep);
    memcpy(ep, "ipc://", 6);
    ep[sizeof ep - 1] = '\0';
    snprintf(text, sizeof text, "inputs:\n  - {endpoint: %s}\n" OUTPUT CLASSIFY CHANNELS, ep);
    refused(text, "c.yaml:2:16: endpoint: too long (399 characters, at most 255)", NULL);
}
END_TEST

START_TEST(test_processing_ranges)
{
    refused(BASE "processing: {workers: 65}\n",
            "c.yaml:10:23: workers: expected an integer in [1, 64], found 65", NULL);
    refused(BASE "processing: {workers: 0}\n",
            "c.yaml:10:23: workers: expected an integer in [1, 64], found 0", NULL);
    refused(BASE "processing: {workers: many}\n",
            "c.yaml:10:23: workers: expected an integer in [1, 64], found 'many'", NULL);
    refused(BASE "processing: {max_batch: 4097}\n", "c.yaml:10:25: max_batch:", "[1, 4096]", NULL);
    refused(BASE "processing: {max_message_bytes: 1023}\n",
            "c.yaml:10:33: max_message_bytes: expected an integer in [1024, 1073741824], found "
            "1023",
            NULL);
    refused(BASE "monitor: {interval_s: 0.01}\n",
            "c.yaml:10:23: interval_s: expected a number in [0.05, 3600], found 0.01", NULL);
    cc_config *c = load_ok(BASE "processing: {workers: 64, max_batch: 1}\n");
    ck_assert_int_eq(c->workers, 64);
    ck_assert_int_eq(c->max_batch, 1);
    cc_config_free(&c);
}
END_TEST

START_TEST(test_channel_rules)
{
    refused(INPUT OUTPUT CLASSIFY
            "channels:\n  default: {classifier: cuts}\n  9: {classifier: cnn2}\n",
            "c.yaml:10:19: classifier: unknown classifier 'cnn2' (known: cuts, nn)", NULL);
    refused(INPUT OUTPUT CLASSIFY "channels:\n  default: {classifier: cnn}\n",
            "c.yaml:9:25: classifier: unknown classifier 'cnn' (known: cuts, nn)", NULL);
    refused(INPUT OUTPUT CLASSIFY "channels:\n  7: {classifier: cuts}\n",
            "c.yaml:9:3: channels: a 'default' entry is required", NULL);
    refused(INPUT OUTPUT CLASSIFY "channels:\n  default: {cutoff: 0.5}\n",
            "c.yaml:9:12: missing required key 'classifier' in default", NULL);
    const char *bad_keys[] = {"abc",   "5-3",         "'-5'", "7-",  "-",
                              "1-2-3", "99999999999", "0x10", "'3 '"};
    const char *shown[] = {"abc", "5-3", "-5", "7-", "-", "1-2-3", "99999999999", "0x10", "3 "};
    for (size_t i = 0; i < sizeof bad_keys / sizeof *bad_keys; i++) {
        char text[1024], want[256];
        snprintf(text, sizeof text,
                 INPUT OUTPUT CLASSIFY "channels:\n  default: {classifier: cuts}\n  %s: "
                                       "{classifier: cuts}\n",
                 bad_keys[i]);
        snprintf(want, sizeof want,
                 "c.yaml:10:3: channels: expected 'default', a channel number or a range "
                 "FIRST-LAST, found '%s'",
                 shown[i]);
        refused(text, want, NULL);
    }
    refused(INPUT OUTPUT CLASSIFY "channels:\n  default: {classifier: cuts}\n  7: cuts\n",
            "c.yaml:10:6: 7: expected a mapping, found a scalar", NULL);
}
END_TEST

START_TEST(test_first_match_wins)
{
    cc_config *c = load_ok(INPUT OUTPUT CLASSIFY "channels:\n"
                                                 "  150: {classifier: cuts, cutoff: 0.2}\n"
                                                 "  100-199: {classifier: nn, cutoff: 0.7}\n"
                                                 "  120-160: {classifier: cuts, cutoff: 0.9}\n"
                                                 "  default: {classifier: nn, cutoff: 0.4}\n"
                                                 "  0-4294967295: {classifier: cuts, cutoff: 1}\n");
    ck_assert_uint_eq(c->nchannels, 4);
    const cc_conf_channel *r = cc_config_channel(c, 150);
    ck_assert_ptr_eq(r, &c->channels[0]);
    ck_assert_float_eq(r->cutoff, 0.2f);
    ck_assert_uint_eq(r->classifier, 0);
    for (uint32_t ch = 100; ch <= 199; ch++)
        if (ch != 150) ck_assert_ptr_eq(cc_config_channel(c, ch), &c->channels[1]);
    /* the rule listed after `default` still comes before it: explicit rules
     * are tried first, the default last */
    ck_assert_ptr_eq(cc_config_channel(c, 99), &c->channels[3]);
    ck_assert_ptr_eq(cc_config_channel(c, 200), &c->channels[3]);
    ck_assert_ptr_eq(cc_config_channel(c, UINT32_MAX), &c->channels[3]);
    ck_assert_uint_eq(c->channels[3].last, UINT32_MAX);
    ck_assert_float_eq(c->fallback.cutoff, 0.4f);
    cc_config_free(&c);

    /* the same rules in the other order give the other answer */
    c = load_ok(INPUT OUTPUT CLASSIFY "channels:\n"
                                      "  100-199: {classifier: nn, cutoff: 0.7}\n"
                                      "  150: {classifier: cuts, cutoff: 0.2}\n"
                                      "  default: {classifier: cuts}\n");
    ck_assert_ptr_eq(cc_config_channel(c, 150), &c->channels[0]);
    ck_assert_uint_eq(cc_config_channel(c, 150)->classifier, 1);
    ck_assert_ptr_eq(cc_config_channel(c, 99), &c->fallback);
    ck_assert_ptr_eq(cc_config_channel(c, 200), &c->fallback);
    ck_assert_ptr_eq(cc_config_channel(c, 100), &c->channels[0]);
    ck_assert_ptr_eq(cc_config_channel(c, 199), &c->channels[0]);
    cc_config_free(&c);
}
END_TEST

START_TEST(test_cutoff_range)
{
    refused(INPUT OUTPUT CLASSIFY "channels:\n  default: {classifier: cuts, cutoff: 1.5}\n",
            "c.yaml:9:39: cutoff: expected a number in [0, 1], found 1.5", NULL);
    refused(INPUT OUTPUT CLASSIFY "channels:\n  default: {classifier: cuts, cutoff: -0.1}\n",
            "c.yaml:9:39: cutoff: expected a number in [0, 1], found -0.1", NULL);
    refused(INPUT OUTPUT CLASSIFY "channels:\n  default: {classifier: cuts, cutoff: nan}\n",
            "c.yaml:9:39: cutoff: expected a number in [0, 1], found 'nan'", NULL);
    cc_config *c = load_ok(INPUT OUTPUT CLASSIFY "channels:\n  default: {classifier: cuts, "
                                                 "cutoff: 0}\n  3: {classifier: nn, cutoff: 1}\n");
    ck_assert_float_eq(c->fallback.cutoff, 0.0f);
    ck_assert_float_eq(cc_config_channel(c, 3)->cutoff, 1.0f);
    cc_config_free(&c);
}
END_TEST

START_TEST(test_classifier_names)
{
    /* names travel in the 16-byte NUL-padded decision field: at most 15 */
    refused(INPUT OUTPUT "classifiers:\n  abcdefghijklmnop: {plugin: cuts}\n" CHANNELS,
            "c.yaml:6:21: classifier name (reported in decisions): too long (16 characters, at "
            "most 15)",
            NULL);
    cc_config *c = load_ok(INPUT OUTPUT "classifiers:\n  abcdefghijklmno: {plugin: cuts}\n"
                                        "channels:\n  default: {classifier: abcdefghijklmno}\n");
    ck_assert_str_eq(c->classifiers[0].name, "abcdefghijklmno");
    cc_config_free(&c);
    refused(INPUT OUTPUT "classifiers: {}\n" CHANNELS,
            "c.yaml:5:14: classifiers: at least one classifier is needed", NULL);
    refused(INPUT OUTPUT "classifiers:\n  cuts: {config: {}}\n" CHANNELS,
            "c.yaml:6:9: missing required key 'plugin' in cuts", NULL);
    refused(INPUT OUTPUT "classifiers:\n  - cuts\n" CHANNELS,
            "c.yaml:6:3: classifiers: expected a mapping, found a sequence", NULL);
    refused(INPUT OUTPUT "classifiers:\n  cuts: {plugin: cuts}\n  cuts: {plugin: nn}\n" CHANNELS,
            "c.yaml:7:3: duplicate key 'cuts' (first at line 6)", NULL);
}
END_TEST

START_TEST(test_whole_file_errors)
{
    cc_err e;
    ck_assert_ptr_null(load("", &e));
    ck_assert_str_eq(e.msg, "c.yaml: the configuration is empty");
    ck_assert_ptr_null(load("# nothing here\n", &e));
    ck_assert_str_eq(e.msg, "c.yaml: the configuration is empty");
    refused("- a\n- b\n", "c.yaml:1:1: configuration: expected a mapping, found a sequence", NULL);
    refused(BASE "inputs: []\n", "c.yaml:10:1: duplicate key 'inputs' (first at line 1)", NULL);

    char dir[256], path[512], want[600];
    cct_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/broken.yaml", dir);
    const char *bad = INPUT "outputs: [\n";
    cct_write_file(path, bad, strlen(bad));
    ck_assert_ptr_null(cc_config_load_file(path, &e));
    snprintf(want, sizeof want, "%s:4:1: YAML syntax error", path);
    ck_assert_msg(strncmp(e.msg, want, strlen(want)) == 0, "%s", e.msg);
    snprintf(path, sizeof path, "%s/good.yaml", dir);
    cct_write_file(path, BASE, strlen(BASE));
    cc_config *c = cc_config_load_file(path, &e);
    ck_assert_msg(c != NULL, "%s", e.msg);
    ck_assert_str_eq(c->dir, dir);
    cc_config_free(&c);
    snprintf(path, sizeof path, "%s/absent.yaml", dir);
    ck_assert_ptr_null(cc_config_load_file(path, &e));
    ck_assert_msg(strstr(e.msg, "cannot open") != NULL, "%s", e.msg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("config");
    TCase *t = tcase_create("config");
    tcase_add_test(t, test_shipped_default);
    tcase_add_test(t, test_every_value_read);
    tcase_add_test(t, test_minimal);
    tcase_add_test(t, test_unknown_keys);
    tcase_add_test(t, test_inputs);
    tcase_add_test(t, test_endpoints);
    tcase_add_test(t, test_processing_ranges);
    tcase_add_test(t, test_channel_rules);
    tcase_add_test(t, test_first_match_wins);
    tcase_add_test(t, test_cutoff_range);
    tcase_add_test(t, test_classifier_names);
    tcase_add_test(t, test_whole_file_errors);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return cct_run(suite());
}
