/* cc_alert.h - per-channel rate-jump detectors and the alert state machine.
 *
 * Each channel has two one-sided CUSUM detectors fed once per alert bin
 * (bin_s seconds) with n = records classified in the bin and k = artefacts
 * (records rejected by the classifier):
 *
 *   Poisson CUSUM on the artefact count per bin, baseline mu0 -> mu1 = c*mu0
 *   (c = min_change):   kref = (mu1 - mu0) / ln(mu1/mu0),
 *                       S = max(0, S + k - kref),           alarm when S >= hP.
 *   Bernoulli CUSUM on the artefact fraction (robust to trigger-rate changes),
 *   p0 -> p1 = min(c*p0, (1+p0)/2), updated with the bin's n records at once:
 *                       W = max(0, W + k ln(p1/p0) - (n-k) ln((1-p0)/(1-p1))),
 *                                                           alarm when W >= hB.
 *
 * Thresholds come from the wanted false-alarm rate. The design object
 * (cc_alert_design, built once at configure time) computes, for a log grid of
 * mu0 values, the hP giving the in-control average run length
 * ARL0 = 2 * (bins per week) / false_alarms_per_week (the budget is split
 * between the two detectors). ARL(h) is computed with a Brook-Evans Markov
 * chain (the CUSUM value discretised into 100..400 states with an atom at 0,
 * exact Poisson transition probabilities, (I - R) L = 1 solved by LU); h is
 * found by regula falsi on ln ARL(h). At run time hP(mu0) is interpolated in
 * ln mu0. For small p0 the Bernoulli bin update is ln(p1/p0) times a Poisson
 * CUSUM increment with mean n*p0, so hB = ln(p1/p0) * hP(n_mean * p0); for
 * larger p0 the binomial variance is smaller than Poisson and this hB is
 * conservative (fewer false alarms than designed). bench/bench_alerts.c
 * measures both.
 *
 * Baseline: learned over the first learn_bins bins (longer if fewer than
 * min_counts artefacts were seen: NO-STATS until then), then updated slowly
 * (exponential weight baseline_alpha per bin) with the bins that arrive
 * while the channel is OK with both S/h below clear_ratio (decided before the
 * bin is seen, so the selection does not bias the baseline low), and frozen
 * otherwise (WARNING, ALARM, or a CUSUM on its way up, which would otherwise
 * absorb a small step). mu0 below CC_ALERT_MU_MIN is treated as
 * CC_ALERT_MU_MIN (documented: use longer bins for very quiet channels).
 * Bursts: the dispersion D = var(k)/mean(k) is learned with the baseline; if
 * D > 1 both thresholds become D * h(mu/D) (quasi-Poisson: k/D has the mean
 * and variance of a Poisson(mu/D) count), which keeps bursty channels from
 * alarming all day.
 *
 * States: NO-STATS -> OK <-> WARNING -> ALARM. WARNING when max(S/hP, W/hB)
 * reaches warn_ratio, back to OK below clear_ratio (hysteresis). A crossing
 * (S >= hP or W >= hB) raises ALARM and restarts that statistic at 0. ALARM
 * is latched: it ends by cc_alert_clear() or, if auto_clear_bins > 0, after
 * that many consecutive quiet bins (no crossing and ratio < clear_ratio).
 * Only changes are reported, plus a reminder every reminder_s in ALARM.
 *
 * No globals, no threads: one cc_alert per channel, owned by its caller.
 */
#ifndef CC_ALERT_H
#define CC_ALERT_H

#include <stdint.h>

#include "cc_err.h"
#include "cc_yaml.h"

#define CC_ALERT_MU_MIN 0.1 /* smallest baseline artefact count per bin used */

typedef enum cc_alert_state {
    CC_ALERT_NOSTATS = 0,
    CC_ALERT_OK = 1,
    CC_ALERT_WARNING = 2,
    CC_ALERT_ALARM = 3
} cc_alert_state;

/* What caused an event. */
typedef enum cc_alert_cause {
    CC_AC_LEARNED = 0, /* baseline learned: NO-STATS -> OK */
    CC_AC_POISSON,     /* Poisson CUSUM (artefact rate) */
    CC_AC_BERNOULLI,   /* Bernoulli CUSUM (artefact fraction) */
    CC_AC_QUIET,       /* ratio fell below clear_ratio (WARNING -> OK) */
    CC_AC_AUTO_CLEAR,  /* auto_clear_bins quiet bins in ALARM */
    CC_AC_CLEARED,     /* cc_alert_clear() */
    CC_AC_REMINDER,    /* still in ALARM */
    CC_AC_RELEARN,     /* cc_alert_relearn(): back to NO-STATS */
} cc_alert_cause;

typedef struct cc_alert_config {
    int enabled;                  /* run detectors at all (1) */
    uint32_t bin_s;               /* alert bin width, seconds (10) */
    double false_alarms_per_week; /* wanted false ALARMs per channel and week (1) */
    double min_change;            /* smallest factor worth catching (2) */
    uint32_t learn_bins;          /* bins to learn the baseline (60) */
    uint32_t min_counts;          /* artefacts needed before leaving NO-STATS (20) */
    double baseline_alpha;        /* slow baseline update per OK bin (0.002) */
    double warn_ratio;            /* WARNING at S/h >= this (0.8) */
    double clear_ratio;           /* back to OK / quiet below this (0.4) */
    uint32_t auto_clear_bins;     /* quiet bins that clear an ALARM, 0 = by hand only (30) */
    uint32_t reminder_s;          /* reminder period in ALARM, 0 = none (600) */
} cc_alert_config;

/* One reported change (or reminder) of one channel. */
typedef struct cc_alert_event {
    uint32_t channel;
    cc_alert_state from, to; /* equal for reminders */
    cc_alert_cause cause;
    double ratio;                        /* max(S/hP, W/hB) after the bin */
    double mu0, p0;                      /* baseline artefacts per bin and fraction */
    uint64_t bin_records, bin_artefacts; /* the bin that caused it */
    uint64_t t_ns;
} cc_alert_event;

/* A read-only view of a detector, for gauges and messages. */
typedef struct cc_alert_view {
    cc_alert_state state;
    double ratio_poisson, ratio_bernoulli; /* S/hP, W/hB after the last bin, before a
                                            * crossing restarts them (0 in NO-STATS) */
    double h_poisson, h_bernoulli;
    double mu0, p0, n_mean; /* baseline per bin */
    uint64_t since_ns;      /* time of the last state change */
    uint64_t alarms;        /* ALARMs raised so far */
    double dispersion;      /* variance/mean of k while learning (1 for Poisson; >1.5 = bursty) */
} cc_alert_view;

typedef struct cc_alert_design cc_alert_design;
typedef struct cc_alert cc_alert;

/* Fills c with the defaults given in the comments above. */
void cc_alert_config_default(cc_alert_config *c);

/* Reads the keys of an `alerts:` mapping (all optional; unknown keys are
 * errors; `notify:` is skipped: it configures the daemon's delivery, see
 * daemon/alert_sink.h) over the values already in c. Returns 0, or -1 with
 * a positioned e. */
int cc_alert_config_from_yaml(const cc_ynode *map, cc_alert_config *c, cc_err *e);

/* Stable lower-case names: "no_stats", "ok", "warning", "alarm" and
 * "learned", "poisson", "bernoulli", "quiet", "auto_clear", "cleared",
 * "reminder", "relearn". */
const char *cc_alert_state_name(cc_alert_state s);
const char *cc_alert_cause_name(cc_alert_cause c);

/* In-control average run length (bins) of the Poisson CUSUM with reference
 * kref and threshold h when counts are Poisson(mu), by a Brook-Evans chain of
 * `states` states (0 = automatic). Returns a value < 0 on bad arguments. */
double cc_alert_arl_poisson(double mu, double kref, double h, int states);

/* Threshold hP for baseline mu0, change factor c and wanted ARL0 (bins), by
 * regula falsi on ln ARL. Returns < 0 on bad arguments. */
double cc_alert_h_poisson(double mu0, double c, double arl0);

/* Checks c and computes the threshold table (takes ~0.1 s). NULL with e on a
 * bad configuration (names the field, the allowed range and the value). */
cc_alert_design *cc_alert_design_new(const cc_alert_config *c, cc_err *e);

/* Frees *d and sets it to NULL. */
void cc_alert_design_free(cc_alert_design **d);

/* The design's configuration, target ARL0 per detector (bins), and the
 * interpolated Poisson threshold for baseline mu0. */
const cc_alert_config *cc_alert_design_config(const cc_alert_design *d);
double cc_alert_design_arl0(const cc_alert_design *d);
double cc_alert_design_h(const cc_alert_design *d, double mu0);

/* A detector for one channel in NO-STATS. d must outlive it. NULL on OOM. */
cc_alert *cc_alert_new(const cc_alert_design *d, uint32_t channel, uint64_t now_ns);

/* Frees *a and sets it to NULL. */
void cc_alert_free(cc_alert **a);

/* Feeds one closed bin (n records classified, k of them artefacts, k <= n).
 * Returns 1 and fills *ev when the state changed or a reminder is due, else 0. */
int cc_alert_bin(cc_alert *a, uint64_t n, uint64_t k, uint64_t now_ns, cc_alert_event *ev);

/* Clears a latched ALARM (or a WARNING) to OK and restarts both statistics.
 * Returns 1 with *ev if the state changed, 0 if there was nothing to clear. */
int cc_alert_clear(cc_alert *a, uint64_t now_ns, cc_alert_event *ev);

/* Forgets the baseline (the new level is the new normal) and learns it again:
 * back to NO-STATS. Returns 1 with *ev (cause "relearn"). */
int cc_alert_relearn(cc_alert *a, uint64_t now_ns, cc_alert_event *ev);

/* Current state and statistics. */
void cc_alert_view_get(const cc_alert *a, cc_alert_view *out);

#endif
