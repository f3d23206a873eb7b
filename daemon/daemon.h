/* daemon.h - state shared by cryocleand's threads.
 *
 * Threads and ownership (see docs/ARCHITECTURE.md):
 *   main     config, signals (signalfd), systemd notify, reload, watchdog;
 *            owns the current pipeline reference.
 *   ingest   owns the input sockets; turns messages into items, accounts
 *            sequence gaps, answers malformed input; pushes to `work`.
 *   workers  pop batches from `work`, preprocess and classify with the
 *            pipeline they hold a reference to, push decided items to `out`.
 *   output   owns the decision/clean/monitor sockets and the monitor;
 *            publishes and frees items.
 * Counters are atomics so every thread may read them; each is written at one
 * place. At quiescence received == decided + undecidable (see counters_*).
 */
#ifndef CCD_DAEMON_H
#define CCD_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <zmq.h>

#include "alert_sink.h"
#include "cc_config.h"
#include "cc_monitor.h"
#include "metrics_http.h"
#include "cc_proto.h"
#include "cc_registry.h"
#include "queue.h"

/* One received record travelling through the pipeline. */
typedef struct ccd_item {
    zmq_msg_t frames[3]; /* topic, header, samples: re-sent unchanged on the clean stream */
    int nframes;
    cc_rec_hdr hdr;
    uint64_t t_recv_ns; /* CLOCK_MONOTONIC at receive */
    cc_decision dec;    /* filled by a worker (or by ingest for invalid records) */
    float pulse_height; /* volts, for the monitor (NaN when unknown) */
} ccd_item;

/* A loaded configuration with its classifiers; reference counted so a reload
 * can replace it while workers finish batches with the old one. */
typedef struct ccd_pipeline {
    cc_config *cfg;
    cc_registry *reg;
    cc_classifier *cls; /* [cfg->nclassifiers] */
    size_t max_input_len;
    uint64_t generation;
    atomic_int refs;
} ccd_pipeline;

typedef struct ccd_counters {
    atomic_uint_fast64_t received;                   /* messages taken from input sockets */
    atomic_uint_fast64_t accepted;                   /* decisions: accept */
    atomic_uint_fast64_t rejected;                   /* decisions: reject by classifier */
    atomic_uint_fast64_t invalid;                    /* decisions: invalid (sum of invalid_by[]) */
    atomic_uint_fast64_t invalid_by[CC_R_COUNT];     /* invalid decisions by reason */
    atomic_uint_fast64_t undecidable_by[CC_R_COUNT]; /* counted only: no readable identity */
    atomic_uint_fast64_t undecidable;                /* sum of undecidable_by[] */
    atomic_uint_fast64_t lost_upstream;              /* sequence gaps */
    atomic_uint_fast64_t reordered;
    atomic_uint_fast64_t publishers;
    atomic_uint_fast64_t out_dropped_decisions; /* PUB at HWM (counted, never silent) */
    atomic_uint_fast64_t out_dropped_clean;
    atomic_uint_fast64_t published_decisions;
    atomic_uint_fast64_t published_clean;
    atomic_uint_fast64_t batches;
    atomic_uint_fast64_t reloads, reload_failures;
} ccd_counters;

typedef struct ccd {
    cc_config *boot_cfg;     /* the configuration sockets and threads were made from */
    const char *config_path; /* NULL: embedded default */
    const char *plugin_dir_override;
    const char *conf_dir; /* base of the embedded default's relative paths (models/) */

    void *zctx;
    void **in_socks;                        /* [boot_cfg->ninputs], owned by the ingest thread */
    void *dec_sock, *clean_sock, *mon_sock; /* owned by the output thread; NULL if off */
    void *ctl_sock; /* REP: shift-crew commands (clear/relearn), owned by the output thread */
    ccd_queue *work, *out;
    ccd_counters c;

    pthread_mutex_t pipe_mu;
    ccd_pipeline *pipe; /* current; guarded by pipe_mu */
    atomic_uint_fast64_t pipe_generation;

    atomic_int stop_ingest;
    atomic_uint_fast64_t beat_ingest, beat_output;
    atomic_uint_fast64_t *beat_workers; /* [nworkers] */
    int nworkers;

    /* monitoring, owned by the output thread (http is started by main) */
    cc_monitor *mon;
    cc_alert_sink *sink;
    cc_metrics_http *http;
    uint64_t start_ns;

    pthread_t ingest_thr, output_thr, *worker_thr;
    pthread_mutex_t status_mu;
    char status[256]; /* latest one-line summary from the output thread */
} ccd;

/* Reads an atomic counter as unsigned long long (for printing). */
#define LDC(x) ((unsigned long long)atomic_load(&(x)))

/* pipeline.c */
/* Loads classifiers for cfg (taking ownership of cfg); NULL with e on failure. */
ccd_pipeline *ccd_pipeline_new(cc_config *cfg, const char *plugin_dir, cc_err *e);
/* Takes a reference to the current pipeline. */
ccd_pipeline *ccd_pipeline_acquire(ccd *d);
/* Drops a reference; the last one destroys the pipeline. */
void ccd_pipeline_release(ccd_pipeline *p);
/* Resolves the plugin directory: override, else config (relative to the
 * config's directory), else the compiled-in default. */
void ccd_plugin_dir(const cc_config *cfg, const char *override, char *buf, size_t len);

/* Argument of a worker thread. */
typedef struct ccd_worker_arg {
    ccd *d;
    int idx;
} ccd_worker_arg;

/* ingest.c, worker.c, output.c: thread bodies (ccd * or ccd_worker_arg *). */
void *ccd_ingest_main(void *d);
void *ccd_worker_main(void *arg);
void *ccd_output_main(void *d);

/* Opens the input sockets (before READY=1); 0 or -1 with e. */
int ccd_ingest_open(ccd *d, cc_err *e);
/* Opens the output sockets and creates the monitor and alert sink; 0 or -1 with e. */
int ccd_output_open(ccd *d, cc_err *e);
/* Closes what ccd_output_open made (after the output thread ended). */
void ccd_output_close(ccd *d);

/* Frees an item and its frames. */
void ccd_item_free(ccd_item *it);

/* CLOCK_MONOTONIC / CLOCK_REALTIME in ns. */
uint64_t ccd_mono_ns(void);
uint64_t ccd_real_ns(void);

#endif
