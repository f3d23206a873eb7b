/* cmd_classify.c - `cryoclean classify`: offline cleaning of a recorded file.
 *
 * Classifies every record of every channel of a Cait-layout HDF5 group with
 * one classifier for all channels (--classifier / --model) or with the
 * daemon's channel mapping (--config), and writes score, accept,
 * module_accept and event_accept beside the raw data or into a new file
 * (lib/clean, layout and commit protocol in cc_clean.h and docs/CLASSIFY.md).
 * Modules: --modules, else the group's module_ids attribute, else the whole
 * file is one module.
 *
 * Threads: the main thread owns every HDF5 handle (libhdf5 is not
 * thread-safe). It reads chunks of --chunk events of all channels into a
 * ring of NSLOT slots and hands them to --threads workers; each worker has
 * its own batch workspace per classifier (cc_clean_ws) and takes pieces of
 * up to --batch records of one channel. Slots are written back in file
 * order, so results reach the file as one growing prefix of events:
 * complete_events. Memory: NSLOT * chunk * channels * samples floats.
 *
 * SIGINT/SIGTERM: no new chunk is read; the chunks in flight are finished
 * and written, complete_events is recorded, the file is flushed and closed,
 * and the exit status is 130. Running the same command again resumes.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cc_clean.h"
#include "cc_config.h"
#include "cc_h5.h"
#include "cc_registry.h"
#include "cc_yaml.h"
#include "classifier_arg.h"
#include "cmds.h"
#include "progress.h"

#define NSLOT      3
#define SLOT_BYTES (16u << 20) /* default chunk: about 16 MiB of raw records */

void openblas_set_num_threads(int num_threads);

static volatile sig_atomic_t g_stop; /* SIGINT/SIGTERM seen (process state in a tool) */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

typedef struct opts {
    const char *file, *plugin, *plugin_conf, *model, *config, *plugin_dir, *group, *out;
    const char *modules; /* --modules LIST, or NULL */
    double cutoff;       /* NaN: per channel from the config / classifier */
    long threads, chunk, batch;
    int force, quiet;
} opts;

enum { SLOT_FREE, SLOT_QUEUED, SLOT_DONE };

typedef struct slot {
    int state;
    uint64_t first;
    uint32_t k;
    size_t npieces, next_piece, done_pieces;
    float *event; /* [nch * chunk * ns] */
    float *score; /* [nch * chunk] */
} slot;

/* Everything the workers share; the mutex guards the slot states, the
 * piece counters and the error. */
typedef struct job {
    uint32_t nch, ns;
    size_t batch;
    cc_classifier *cls; /* [ncls] */
    size_t ncls;
    size_t *ch_cls;          /* [nch] classifier of each channel */
    float *cutoff;           /* [nch] */
    cc_record_meta *ch_meta; /* [nch] */
    uint32_t *mod_id;        /* [nch] module of each channel (as given) */
    uint32_t *mod;           /* [nch] the same, numbered 0..nmod-1 */
    uint32_t nmod;
    slot slots[NSLOT];
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    int quit, failed;
    uint64_t records_done;
    cc_err err;
} job;

typedef struct worker {
    job *j;
    cc_clean_ws **ws; /* [ncls] */
    const float **raw;
    cc_record_meta *meta;
} worker;

/* ---- workers ---- */

/* Classifies piece p of slot s; returns the records it held. */
static size_t run_piece(worker *w, slot *s, size_t p, cc_err *e, int *bad)
{
    job *j = w->j;
    size_t ppc = (s->k + j->batch - 1) / j->batch;
    uint32_t c = (uint32_t)(p / ppc);
    size_t i0 = (p % ppc) * j->batch, n = s->k - i0 < j->batch ? s->k - i0 : j->batch;
    for (size_t i = 0; i < n; i++) {
        w->raw[i] = s->event + ((size_t)c * s->k + i0 + i) * j->ns;
        w->meta[i] = j->ch_meta[c];
    }
    if (cc_clean_classify(w->ws[j->ch_cls[c]], w->raw, w->meta, n, NAN,
                          s->score + (size_t)c * s->k + i0, e)) {
        cc_err_prefix(e, "channel %u, events [%llu, %llu)", j->ch_meta[c].channel,
                      (unsigned long long)(s->first + i0), (unsigned long long)(s->first + i0 + n));
        *bad = 1;
    }
    return n;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    job *j = w->j;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        slot *s = NULL;
        for (int i = 0; i < NSLOT; i++) {
            slot *t = &j->slots[i];
            if (t->state == SLOT_QUEUED && t->next_piece < t->npieces &&
                (!s || t->first < s->first))
                s = t;
        }
        if (!s) {
            if (j->quit) break;
            pthread_cond_wait(&j->cv_work, &j->mu);
            continue;
        }
        size_t p = s->next_piece++;
        pthread_mutex_unlock(&j->mu);
        cc_err e = {""};
        int bad = 0;
        size_t n = j->failed ? 0 : run_piece(w, s, p, &e, &bad);
        pthread_mutex_lock(&j->mu);
        if (bad && !j->failed) j->failed = 1, j->err = e;
        j->records_done += n;
        if (++s->done_pieces == s->npieces) {
            s->state = SLOT_DONE;
            pthread_cond_broadcast(&j->cv_done);
        }
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

static void worker_free(worker *w, size_t ncls)
{
    if (w->ws)
        for (size_t c = 0; c < ncls; c++) cc_clean_ws_free(&w->ws[c]);
    free(w->ws), free(w->raw), free(w->meta);
}

static int worker_init(worker *w, job *j, cc_err *e)
{
    memset(w, 0, sizeof *w);
    w->j = j;
    w->ws = calloc(j->ncls, sizeof *w->ws);
    w->raw = calloc(j->batch, sizeof *w->raw);
    w->meta = calloc(j->batch, sizeof *w->meta);
    if (!w->ws || !w->raw || !w->meta) return cc_err_set(e, "out of memory");
    for (size_t c = 0; c < j->ncls; c++)
        if (j->cls[c].ops && !(w->ws[c] = cc_clean_ws_new(&j->cls[c], j->batch, e))) return -1;
    return 0;
}

/* ---- the reader/writer (main thread) ---- */

typedef struct tally {
    uint64_t *acc, *rej, *inv; /* [nch] */
    uint64_t *mod_acc;         /* [nmod] events each module accepts */
    uint64_t ev_acc, events, records;
} tally;

/* Decision buffers for one chunk: accept and module_accept [nch * chunk],
 * per module [nmod * chunk], event_accept [chunk]. */
typedef struct decisions {
    uint8_t *acc, *macc, *mall, *ev;
} decisions;

/* Decides a finished slot (record, module, event) and writes it. */
static int commit_slot(job *j, slot *s, cc_clean_out *out, const decisions *d, tally *t, cc_err *e)
{
    uint32_t k = s->k;
    memset(d->ev, 1, k);
    memset(d->mall, 1, (size_t)j->nmod * k);
    for (uint32_t c = 0; c < j->nch; c++)
        for (uint32_t i = 0; i < k; i++) {
            size_t x = (size_t)c * k + i;
            float sc = s->score[x];
            d->acc[x] = sc >= j->cutoff[c];
            if (!d->acc[x]) d->ev[i] = 0, d->mall[(size_t)j->mod[c] * k + i] = 0;
            if (isnan(sc))
                t->inv[c]++;
            else if (d->acc[x])
                t->acc[c]++;
            else
                t->rej[c]++;
        }
    for (uint32_t c = 0; c < j->nch; c++)
        memcpy(d->macc + (size_t)c * k, d->mall + (size_t)j->mod[c] * k, k);
    for (uint32_t m = 0; m < j->nmod; m++)
        for (uint32_t i = 0; i < k; i++) t->mod_acc[m] += d->mall[(size_t)m * k + i];
    for (uint32_t i = 0; i < k; i++) t->ev_acc += d->ev[i];
    t->events += k;
    t->records += (uint64_t)k * j->nch;
    if (cc_clean_out_write(out, s->first, k, s->score, d->acc, d->macc, d->ev, e)) return -1;
    return cc_clean_out_mark(out, s->first + k, e);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Streams events [start, n_events) through the workers; returns 0, 1 when
 * stopped by a signal, or -1 with e. *done receives complete_events. */
static int stream(job *j, cc_h5_reader *rd, cc_clean_out *out, uint64_t start, uint32_t chunk,
                  tally *t, cc_progress *bar, uint64_t *done, cc_err *e)
{
    uint64_t nev = cc_h5_reader_info(rd)->n_events, next = start;
    decisions d = {malloc((size_t)j->nch * chunk), malloc((size_t)j->nch * chunk),
                   malloc((size_t)j->nmod * chunk), malloc(chunk)};
    int rc = 0, head = 0, tail = 0, inflight = 0;
    *done = start;
    if (!d.acc || !d.macc || !d.mall || !d.ev) {
        free(d.acc), free(d.macc), free(d.mall), free(d.ev);
        return cc_err_set(e, "out of memory");
    }
    for (;;) {
        while (!g_stop && !rc && next < nev && inflight < NSLOT) {
            slot *s = &j->slots[head];
            s->first = next;
            s->k = nev - next < chunk ? (uint32_t)(nev - next) : chunk;
            cc_h5_batch b = {.k = s->k, .event = s->event};
            if (cc_h5_reader_read(rd, next, &b, e)) {
                rc = -1;
                break;
            }
            pthread_mutex_lock(&j->mu);
            s->npieces = (size_t)j->nch * ((s->k + j->batch - 1) / j->batch);
            s->next_piece = s->done_pieces = 0;
            s->state = SLOT_QUEUED;
            pthread_cond_broadcast(&j->cv_work);
            pthread_mutex_unlock(&j->mu);
            next += s->k, head = (head + 1) % NSLOT, inflight++;
        }
        if (!inflight) break;
        slot *s = &j->slots[tail];
        pthread_mutex_lock(&j->mu);
        while (s->state != SLOT_DONE) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100000000L;
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&j->cv_done, &j->mu, &ts);
            if (bar) cc_progress_update(bar, j->records_done);
        }
        int failed = j->failed;
        if (failed && !rc) *e = j->err, rc = -1;
        pthread_mutex_unlock(&j->mu);
        if (!rc && commit_slot(j, s, out, &d, t, e)) rc = -1;
        if (!rc) *done = s->first + s->k;
        pthread_mutex_lock(&j->mu);
        s->state = SLOT_FREE;
        pthread_mutex_unlock(&j->mu);
        tail = (tail + 1) % NSLOT, inflight--;
        if (bar) cc_progress_update(bar, t->records);
    }
    free(d.acc), free(d.macc), free(d.mall), free(d.ev);
    if (rc) return -1;
    return *done < nev ? 1 : 0;
}

/* ---- setup ---- */

/* One classifier for all channels: --classifier [--classifier-config] or --model. */
static int make_single(const opts *o, cc_registry *reg, cc_classifier *cl, cc_err *e)
{
    if (!o->model) return cc_tool_classifier(reg, o->plugin, o->plugin_conf, cl, e);
    char abs[PATH_MAX], text[PATH_MAX + 32];
    if (!realpath(o->model, abs)) return cc_err_set(e, "%s: model card: %m", o->model);
    if (strpbrk(abs, "\"\\"))
        return cc_err_set(e, "%s: model card path with quotes or backslashes", abs);
    int k = snprintf(text, sizeof text, "{model: \"%s\"}", abs);
    cc_ydoc *doc = cc_ydoc_load_string("--model", text, (size_t)k, e);
    if (!doc) return -1;
    int rc = cc_classifier_create(reg, "nn", "nn", doc->root, ".", cl, e);
    cc_ydoc_free(&doc);
    return rc;
}

/* Builds the classifiers and the per-channel mapping of j for the file's channel ids. */
static int make_classifiers(const opts *o, const cc_h5_info *in, const char *pdir, job *j,
                            cc_registry **reg, cc_config **cfgp, cc_err *e)
{
    char dir[PATH_MAX];
    cc_config *cfg = NULL;
    if (o->config) {
        if (!(cfg = *cfgp = cc_config_load_file(o->config, e))) return -1;
        if (o->plugin_dir)
            snprintf(dir, sizeof dir, "%s", o->plugin_dir);
        else if (cfg->plugin_dir[0] == '/')
            snprintf(dir, sizeof dir, "%s", cfg->plugin_dir);
        else if (cfg->plugin_dir[0])
            snprintf(dir, sizeof dir, "%s/%s", cfg->dir, cfg->plugin_dir);
        else
            snprintf(dir, sizeof dir, "%s", pdir);
    } else {
        snprintf(dir, sizeof dir, "%s", pdir);
    }
    if (!(*reg = cc_registry_new(dir))) return cc_err_set(e, "out of memory");
    j->ncls = cfg ? cfg->nclassifiers : 1;
    j->cls = calloc(j->ncls, sizeof *j->cls);
    if (!j->cls) return cc_err_set(e, "out of memory");
    for (uint32_t c = 0; c < j->nch; c++) {
        uint32_t id = c < 64 ? in->channel_ids[c] : c;
        const cc_conf_channel *rule = cfg ? cc_config_channel(cfg, id) : NULL;
        size_t ci = rule ? rule->classifier : 0;
        cc_classifier *cl = &j->cls[ci];
        if (!cl->ops) {
            int r = cfg ? cc_classifier_create(*reg, cfg->classifiers[ci].name,
                                               cfg->classifiers[ci].plugin,
                                               cfg->classifiers[ci].config, cfg->dir, cl, e)
                        : make_single(o, *reg, cl, e);
            if (r) return cfg ? cc_err_prefix(e, "channel %u", id) : -1;
        }
        j->ch_cls[c] = ci;
        j->cutoff[c] = !isnan(o->cutoff)              ? (float)o->cutoff
                       : rule && !isnan(rule->cutoff) ? rule->cutoff
                                                      : cl->info.default_cutoff;
        j->ch_meta[c] =
            (cc_record_meta){.channel = id,
                             .module = 0,
                             .n_samples = in->n_samples,
                             .trigger_index = in->trigger_index,
                             .sample_rate_hz = in->fs_hz > 0 ? (float)in->fs_hz : 25000.0f};
    }
    return 0;
}

static void settings_string(const opts *o, char *buf, size_t len)
{
    int k = o->config  ? snprintf(buf, len, "--config %s", o->config)
            : o->model ? snprintf(buf, len, "--model %s", o->model)
                       : snprintf(buf, len, "--classifier %s%s%s", o->plugin,
                                  o->plugin_conf ? " --classifier-config " : "",
                                  o->plugin_conf ? o->plugin_conf : "");
    if (!isnan(o->cutoff) && k >= 0 && (size_t)k < len)
        k += snprintf(buf + k, len - (size_t)k, " --cutoff %.9g", o->cutoff);
    if (o->modules && k >= 0 && (size_t)k < len)
        snprintf(buf + k, len - (size_t)k, " --modules %s", o->modules);
}

/* The module of each channel: --modules, else the group's module_ids
 * attribute, else one module; numbered densely in order of appearance.
 * rule receives where the mapping came from. */
static int setup_modules(const opts *o, job *j, char *rule, size_t len, cc_err *e)
{
    uint32_t n = j->nch;
    if (!(j->mod_id = calloc(n, sizeof *j->mod_id)) || !(j->mod = calloc(n, sizeof *j->mod)))
        return cc_err_set(e, "out of memory");
    if (o->modules) {
        const char *p = o->modules;
        uint32_t c = 0;
        for (char *end; *p && c < n; c++, p = *end == ',' ? end + 1 : end) {
            long v = strtol(p, &end, 10);
            if (end == p || v < 0 || v > INT32_MAX || (*end && *end != ','))
                return cc_err_set(e, "--modules %s: expected %u numbers >= 0 separated by commas",
                                  o->modules, n);
            j->mod_id[c] = (uint32_t)v;
        }
        if (c != n || *p)
            return cc_err_set(e, "--modules %s: expected one module per channel (%u), found %s",
                              o->modules, n, c < n ? "fewer" : "more");
        snprintf(rule, len, "--modules %s", o->modules);
    } else {
        int r = cc_clean_module_ids(o->file, o->group, n, j->mod_id, e);
        if (r < 0) return -1;
        snprintf(rule, len, "%s",
                 r ? "the group's module_ids attribute"
                   : "all channels of the file form one module");
    }
    for (uint32_t c = 0; c < n; c++) {
        uint32_t first = 0;
        while (j->mod_id[first] != j->mod_id[c]) first++;
        j->mod[c] = first == c ? j->nmod++ : j->mod[first];
    }
    return 0;
}

static void print_summary(const job *j, const tally *t, const char *file, const char *where,
                          double secs)
{
    printf("%s: %llu events, %llu records classified in %.2f s (%.0f records/s) -> %s\n", file,
           (unsigned long long)t->events, (unsigned long long)t->records, secs,
           secs > 0 ? (double)t->records / secs : 0.0, where);
    printf("  channel  classifier       model                cutoff   accepted   rejected  "
           "invalid\n");
    for (uint32_t c = 0; c < j->nch; c++) {
        const cc_classifier *cl = &j->cls[j->ch_cls[c]];
        printf("  %7u  %-15s  %-19s  %6.3f  %9llu  %9llu  %7llu\n", j->ch_meta[c].channel, cl->name,
               cl->info.model, (double)j->cutoff[c], (unsigned long long)t->acc[c],
               (unsigned long long)t->rej[c], (unsigned long long)t->inv[c]);
    }
    double ne = t->events ? (double)t->events : 1.0;
    if (j->nmod > 1)
        for (uint32_t m = 0; m < j->nmod; m++) {
            uint32_t c0 = 0;
            while (j->mod[c0] != m) c0++;
            printf("  module %u: events accepted by all its channels: %llu of %llu (%.1f%%)\n",
                   j->mod_id[c0], (unsigned long long)t->mod_acc[m], (unsigned long long)t->events,
                   100.0 * (double)t->mod_acc[m] / ne);
        }
    printf("  events accepted (all %u channels of %s): %llu of %llu (%.1f%%)\n", j->nch,
           j->nmod > 1 ? "all modules" : "the module", (unsigned long long)t->ev_acc,
           (unsigned long long)t->events, 100.0 * (double)t->ev_acc / ne);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cryoclean classify FILE.h5 (--classifier PLUGIN [--classifier-config F.yaml]"
            " |\n"
            "                          --model CARD.yaml | --config cryoclean.yaml) [options]\n"
            "Classifies every record of every channel of a Cait-layout group and writes\n"
            "<group>/cryoclean/{score,accept,event_accept} (docs/CLASSIFY.md).\n\n"
            "  --classifier PLUGIN      one plugin (cuts, nn, ...) for all channels\n"
            "  --classifier-config F    the plugin's YAML configuration block\n"
            "  --model CARD.yaml        shorthand for the nn plugin with {model: CARD}\n"
            "  --config FILE            the daemon's configuration: classifier and cutoff\n"
            "                           per channel id (channels: rules)\n"
            "  --plugin-dir DIR         plugin directory (default: the config's plugin_dir,\n"
            "                           the build's plugins/ or %s)\n"
            "  --group NAME             group to classify (default events)\n"
            "  --cutoff C               accept when score >= C, all channels\n"
            "  --out NEW.h5             write the results (with times and labels) there\n"
            "                           instead of into FILE.h5\n"
            "  --force                  replace existing complete results\n"
            "  --threads N              worker threads (default: online CPUs)\n"
            "  --chunk N                events per read (default: about 16 MiB of records)\n"
            "  --batch N                records per classifier call (default 64)\n"
            "  --modules M0,M1,...      module of each channel (default: the group's\n"
            "                           module_ids attribute, else one module)\n"
            "  -q, --quiet              no progress bar and no summary\n"
            "Exit status: 0 done, 1 error, 2 usage, 130 interrupted (resume by rerunning).\n",
            CC_PLUGIN_DIR);
}

static int parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {{"classifier", required_argument, 0, 'c'},
                                       {"classifier-config", required_argument, 0, 'C'},
                                       {"model", required_argument, 0, 'm'},
                                       {"config", required_argument, 0, 'f'},
                                       {"plugin-dir", required_argument, 0, 'P'},
                                       {"group", required_argument, 0, 'g'},
                                       {"cutoff", required_argument, 0, 'u'},
                                       {"out", required_argument, 0, 'o'},
                                       {"force", no_argument, 0, 'F'},
                                       {"threads", required_argument, 0, 't'},
                                       {"chunk", required_argument, 0, 'k'},
                                       {"batch", required_argument, 0, 'b'},
                                       {"modules", required_argument, 0, 'M'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:C:m:f:P:g:u:o:Ft:k:b:M:qh", lo, NULL)) != -1) {
        long *num = c == 't' ? &o->threads : c == 'k' ? &o->chunk : c == 'b' ? &o->batch : NULL;
        switch (c) {
        case 'c':
            o->plugin = optarg;
            break;
        case 'C':
            o->plugin_conf = optarg;
            break;
        case 'm':
            o->model = optarg;
            break;
        case 'f':
            o->config = optarg;
            break;
        case 'P':
            o->plugin_dir = optarg;
            break;
        case 'g':
            o->group = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'M':
            o->modules = optarg;
            break;
        case 'F':
            o->force = 1;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'u':
            o->cutoff = strtod(optarg, &end);
            if (*end || !(o->cutoff >= 0 && o->cutoff <= 1)) {
                fprintf(stderr, "cryoclean classify: --cutoff: expected [0, 1], found '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 't':
        case 'k':
        case 'b':
            errno = 0;
            *num = strtol(optarg, &end, 10);
            if (errno || *end || *num < 1 || *num > (c == 't' ? 256 : 1 << 20)) {
                fprintf(stderr, "cryoclean classify: --%s: expected 1..%d, found '%s'\n",
                        c == 't'   ? "threads"
                        : c == 'k' ? "chunk"
                                   : "batch",
                        c == 't' ? 256 : 1 << 20, optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "cryoclean classify: expected one input file%s\n\n",
                optind < argc - 1 ? ", found several" : "");
        usage(stderr);
        return 2;
    }
    o->file = argv[optind];
    int nsel = !!o->plugin + !!o->model + !!o->config;
    if (nsel != 1 || (o->plugin_conf && !o->plugin)) {
        fprintf(stderr, "cryoclean classify: give exactly one of --classifier PLUGIN, --model "
                        "CARD.yaml, --config FILE (--classifier-config goes with "
                        "--classifier)\n");
        return 2;
    }
    return -1;
}

static void job_free(job *j)
{
    for (int i = 0; i < NSLOT; i++) free(j->slots[i].event), free(j->slots[i].score);
    if (j->cls)
        for (size_t c = 0; c < j->ncls; c++) cc_classifier_destroy(&j->cls[c]);
    free(j->cls), free(j->ch_cls), free(j->cutoff), free(j->ch_meta), free(j->mod_id), free(j->mod);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv_work), pthread_cond_destroy(&j->cv_done);
}

static int job_init(job *j, const cc_h5_info *in, const opts *o, uint32_t *chunk, cc_err *e)
{
    memset(j, 0, sizeof *j);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv_work, NULL), pthread_cond_init(&j->cv_done, NULL);
    j->nch = in->n_channels, j->ns = in->n_samples, j->batch = (size_t)o->batch;
    size_t per_event = (size_t)j->nch * j->ns * sizeof(float);
    uint64_t k = o->chunk ? (uint64_t)o->chunk : SLOT_BYTES / per_event;
    if (k < 1) k = 1;
    if (in->n_events && k > in->n_events) k = in->n_events;
    *chunk = (uint32_t)k;
    j->ch_cls = calloc(j->nch, sizeof *j->ch_cls);
    j->cutoff = calloc(j->nch, sizeof *j->cutoff);
    j->ch_meta = calloc(j->nch, sizeof *j->ch_meta);
    if (!j->ch_cls || !j->cutoff || !j->ch_meta) return cc_err_set(e, "out of memory");
    for (int i = 0; i < NSLOT; i++) {
        j->slots[i].event = malloc(k * per_event);
        j->slots[i].score = malloc(k * j->nch * sizeof(float));
        if (!j->slots[i].event || !j->slots[i].score)
            return cc_err_set(e, "out of memory for chunks of %llu events (%zu bytes each)",
                              (unsigned long long)k, (size_t)k * per_event);
    }
    return 0;
}

/* Starts n workers (signals blocked in them: the main thread handles them). */
static int start_workers(job *j, worker *w, pthread_t *tid, long n, long *started, cc_err *e)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = 0;
    for (*started = 0; *started < n && !rc; (*started)++) {
        if (worker_init(&w[*started], j, e)) {
            worker_free(&w[*started], j->ncls);
            rc = -1;
            break;
        }
        if (pthread_create(&tid[*started], NULL, worker_main, &w[*started])) {
            worker_free(&w[*started], j->ncls);
            rc = cc_err_set(e, "cannot start worker thread %ld", *started);
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static void stop_workers(job *j, worker *w, pthread_t *tid, long n)
{
    pthread_mutex_lock(&j->mu);
    j->quit = 1;
    pthread_cond_broadcast(&j->cv_work);
    pthread_mutex_unlock(&j->mu);
    for (long i = 0; i < n; i++) {
        pthread_join(tid[i], NULL);
        worker_free(&w[i], j->ncls);
    }
}

int cmd_classify(int argc, char **argv)
{
    opts o = {.cutoff = NAN, .group = "events", .batch = 64};
    int st = parse(argc, argv, &o);
    if (st >= 0) return st;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL), sigaction(SIGTERM, &sa, NULL);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (!o.threads) o.threads = ncpu > 0 ? ncpu : 1;
    char pdir[PATH_MAX], settings[1024], mrule[1100];
    if (o.plugin_dir)
        snprintf(pdir, sizeof pdir, "%s", o.plugin_dir);
    else
        cc_tool_plugin_dir(pdir, sizeof pdir);
    settings_string(&o, settings, sizeof settings);
    /* Several workers each running sgemm: one OpenBLAS thread each, unless the
     * environment (or the nn plugin's `threads:`) says otherwise. */
    if (o.threads > 1 && !getenv("OPENBLAS_NUM_THREADS")) openblas_set_num_threads(1);

    cc_err e = {""};
    job j;
    memset(&j, 0, sizeof j);
    int jinit = 0, rc = 1;
    long nstarted = 0;
    uint32_t chunk = 0;
    uint64_t resume = 0, done = 0;
    cc_registry *reg = NULL;
    cc_config *cfg = NULL;
    cc_clean_out *out = NULL;
    worker *w = calloc((size_t)o.threads, sizeof *w);
    pthread_t *tid = calloc((size_t)o.threads, sizeof *tid);
    const char **names = NULL, **models = NULL;
    tally t = {0};
    cc_h5_reader *rd = cc_h5_reader_open(o.file, o.group, &e);
    if (!w || !tid) {
        cc_err_set(&e, "out of memory");
        goto out;
    }
    if (!rd) goto out;
    cc_h5_info in = *cc_h5_reader_info(rd);
    jinit = 1;
    if (job_init(&j, &in, &o, &chunk, &e) || setup_modules(&o, &j, mrule, sizeof mrule, &e) ||
        make_classifiers(&o, &in, pdir, &j, &reg, &cfg, &e))
        goto out;
    names = calloc(in.n_channels, sizeof *names), models = calloc(in.n_channels, sizeof *models);
    t.acc = calloc(in.n_channels, sizeof *t.acc), t.rej = calloc(in.n_channels, sizeof *t.rej);
    t.inv = calloc(in.n_channels, sizeof *t.inv), t.mod_acc = calloc(j.nmod, sizeof *t.mod_acc);
    uint32_t *ids = calloc(in.n_channels, sizeof *ids);
    if (!names || !models || !t.acc || !t.rej || !t.inv || !t.mod_acc || !ids) {
        free(ids);
        cc_err_set(&e, "out of memory");
        goto out;
    }
    for (uint32_t c = 0; c < in.n_channels; c++) {
        names[c] = j.cls[j.ch_cls[c]].name, models[c] = j.cls[j.ch_cls[c]].info.model;
        ids[c] = j.ch_meta[c].channel;
    }
    cc_clean_desc d = {.n_channels = in.n_channels,
                       .n_events = in.n_events,
                       .classifier = names,
                       .model = models,
                       .cutoff = j.cutoff,
                       .channel_ids = ids,
                       .module_ids = j.mod_id,
                       .module_rule = mrule,
                       .settings = settings,
                       .version = CC_VERSION};
    if (!o.out) cc_h5_reader_close(&rd); /* the read-write handle must come first */
    out = cc_clean_out_open(o.file, o.group, o.out, &d, o.force, &resume, &e);
    free(ids);
    if (!out || (!rd && !(rd = cc_h5_reader_open(o.file, o.group, &e)))) goto out;

    if (start_workers(&j, w, tid, o.threads, &nstarted, &e)) goto out;
    cc_progress bar;
    uint64_t to_do = (in.n_events - resume) * in.n_channels;
    if (!o.quiet) {
        if (resume)
            fprintf(stderr, "cryoclean classify: resuming %s after %llu complete events\n",
                    cc_clean_out_group(out), (unsigned long long)resume);
        cc_progress_start(&bar, "classify", to_do, "rec");
    }
    double t0 = now_s();
    int s = stream(&j, rd, out, resume, chunk, &t, o.quiet ? NULL : &bar, &done, &e);
    double secs = now_s() - t0;
    if (!o.quiet) cc_progress_finish(&bar);
    stop_workers(&j, w, tid, nstarted);
    nstarted = 0;
    if (s < 0 || (s == 0 && cc_clean_out_commit(out, &e))) goto out;
    if (!o.quiet) print_summary(&j, &t, o.file, o.out ? o.out : cc_clean_out_group(out), secs);
    if (s == 1) {
        fprintf(stderr,
                "cryoclean classify: interrupted: %s holds %llu of %llu events "
                "(complete_events); run the same command again to resume\n",
                cc_clean_out_group(out), (unsigned long long)done, (unsigned long long)in.n_events);
        rc = 130;
    } else {
        rc = 0;
    }
out:
    if (nstarted) stop_workers(&j, w, tid, nstarted);
    cc_h5_reader_close(&rd);
    if (cc_clean_out_close(&out, rc == 1 ? NULL : &e) && rc != 1) rc = 1;
    if (rc == 1) fprintf(stderr, "cryoclean classify: %s\n", e.msg);
    if (jinit) job_free(&j);
    cc_config_free(&cfg);
    cc_registry_free(&reg);
    free(w), free(tid), free(names), free(models), free(t.acc), free(t.rej), free(t.inv);
    free(t.mod_acc);
    return rc;
}
