/* cc_config.h - the daemon's configuration (conf/cryoclean.yaml).
 *
 * One YAML file describes where records come from (inputs), where decisions,
 * clean records and monitors go (outputs), which classifiers exist (a plugin
 * name and its `config:` block each) and which channel uses which classifier
 * with which cutoff, plus processing knobs. Parsing is strict: unknown keys,
 * wrong types, out-of-range values and dangling references are errors naming
 * file, line, column, the expectation and what was found. The parsed
 * cc_config keeps the YAML document alive, so classifier and monitor blocks
 * are handed on as positioned nodes.
 *
 * The offline tools use the same file for "the daemon's channel mapping".
 */
#ifndef CC_CONFIG_H
#define CC_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "cc_err.h"
#include "cc_monitor.h"
#include "cc_yaml.h"

#define CC_NAME_MAX     64
#define CC_ENDPOINT_MAX 256

enum cc_sock_kind { CC_SOCK_SUB = 1, CC_SOCK_PULL = 2 };

typedef struct cc_conf_input {
    char endpoint[CC_ENDPOINT_MAX];
    int kind;         /* enum cc_sock_kind */
    int bind;         /* 1 bind, 0 connect */
    char **subscribe; /* SUB topic prefixes (default: "rec/") */
    size_t nsubscribe;
    int hwm;
} cc_conf_input;

typedef struct cc_conf_output {
    char endpoint[CC_ENDPOINT_MAX]; /* empty: stream disabled */
    int bind;                       /* 1 bind (default), 0 connect */
} cc_conf_output;

typedef struct cc_conf_classifier {
    char name[CC_NAME_MAX];
    char plugin[CC_NAME_MAX];
    const cc_ynode *config; /* the `config:` block, or NULL */
} cc_conf_classifier;

/* Channel rule: channels [first, last] use classifier index `classifier`. */
typedef struct cc_conf_channel {
    uint32_t first, last;
    size_t classifier;
    float cutoff; /* NaN: the classifier's default cutoff */
} cc_conf_channel;

typedef struct cc_config {
    cc_ydoc *doc;
    char *path; /* file name as given ("<embedded>" for the built-in default) */
    char *dir;  /* directory that relative paths are resolved against */

    cc_conf_input *inputs;
    size_t ninputs;
    cc_conf_output decisions, clean, monitor;
    cc_conf_output control; /* REP socket for the shift crew (clear/relearn alerts) */
    int out_hwm;

    char plugin_dir[CC_ENDPOINT_MAX]; /* empty: the caller's default */

    cc_conf_classifier *classifiers;
    size_t nclassifiers;
    cc_conf_channel *channels; /* explicit rules, in file order; first match wins */
    size_t nchannels;
    cc_conf_channel fallback; /* the `default:` rule (required) */

    int workers, max_batch, max_wait_ms, queue_capacity;
    uint32_t max_samples;
    uint32_t max_message_bytes;

    double monitor_interval_s;
    cc_monitor_config monitor_cfg; /* windows, spectra, alerts (`monitor:` block) */
    const cc_ynode *alert_notify;  /* `monitor.alerts.notify:` block for the daemon, or NULL */
    const cc_ynode *metrics_node;  /* `metrics:` block for the daemon, or NULL */
    int log_level;                 /* syslog level: 3 err .. 7 debug */
} cc_config;

/* Parses the configuration file at path. NULL with a positioned error on failure. */
cc_config *cc_config_load_file(const char *path, cc_err *e);

/* Parses configuration text; name appears in errors, dir resolves relative paths. */
cc_config *cc_config_load_string(const char *name, const char *dir, const char *text, size_t len,
                                 cc_err *e);

/* Frees the configuration and its document; sets *c to NULL. */
void cc_config_free(cc_config **c);

/* Returns the rule for channel: the first explicit range containing it, else the default. */
const cc_conf_channel *cc_config_channel(const cc_config *c, uint32_t channel);

/* Checks that an endpoint looks like tcp://host:port, ipc://path or inproc://name. */
int cc_config_check_endpoint(const cc_ynode *n, const char *ep, cc_err *e);

#endif
