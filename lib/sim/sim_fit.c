/* sim_fit.c - fitting the simulator's pulse model to a standard event
 * (cc_sim_shape_fit, see cc_sim.h).
 *
 * Parameters: p = (log(at/an), log tau_n, log tau_in, log tau_t, onset in
 * samples). The model is drawn by sim_add_shape with an = 1, at = at/an, so
 * the fit sees exactly the pulses the simulator draws; the amplitude is
 * solved in closed form at every step (a = <u,y>/<u,u>, residual
 * <y,y> - a<u,y>), which leaves a 5-dimensional Nelder-Mead. Each start is
 * run to convergence and restarted once from its result with a fresh
 * simplex (guards against a collapsed simplex); the best result wins.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

#define NP        5
#define MAX_EVALS 2500 /* per Nelder-Mead run */

typedef struct fitctx {
    const float *y;
    uint32_t n;
    double fs, yy;
    float *u; /* scratch: the model, n samples */
    int evals;
} fitctx;

static cc_sim_shape shape_of(const double *p)
{
    return (cc_sim_shape){1.0, exp(p[0]), exp(p[1]), exp(p[2]), exp(p[3])};
}

/* squared residual after the best amplitude (*amp); HUGE_VAL outside the box */
static double cost(fitctx *c, const double *p, double *amp)
{
    c->evals++;
    double lo = log(0.05 * 1e3 / c->fs), hi = log(50.0 * c->n * 1e3 / c->fs); /* ms */
    for (int k = 1; k < 4; k++)
        if (!(p[k] >= lo && p[k] <= hi)) return HUGE_VAL;
    if (!(fabs(p[0]) <= log(1e4)) || !(p[4] > -(double)c->n && p[4] < (double)c->n))
        return HUGE_VAL;
    cc_sim_shape sh = shape_of(p);
    memset(c->u, 0, sizeof *c->u * c->n);
    sim_add_shape(c->u, c->n, c->fs, 0, &sh, 1.0, p[4] * 1e3 / c->fs);
    double uy = 0, uu = 0;
    for (uint32_t i = 0; i < c->n; i++)
        uy += (double)c->u[i] * c->y[i], uu += (double)c->u[i] * c->u[i];
    if (!(uu > 0) || !(uy > 0)) return HUGE_VAL;
    if (amp) *amp = uy / uu;
    double r = c->yy - uy * uy / uu;
    return r > 0 ? r : 0;
}

/* Nelder-Mead from p (updated to the best vertex); returns its cost. */
static double nelder_mead(fitctx *c, double *p, const double *step)
{
    double x[NP + 1][NP], f[NP + 1];
    for (int v = 0; v <= NP; v++) {
        memcpy(x[v], p, sizeof x[v]);
        if (v) x[v][v - 1] += step[v - 1];
        f[v] = cost(c, x[v], NULL);
    }
    for (int it = 0; it < MAX_EVALS; it++) {
        /* order: best first */
        for (int a = 1; a <= NP; a++)
            for (int b = a; b > 0 && f[b] < f[b - 1]; b--) {
                double t = f[b];
                f[b] = f[b - 1], f[b - 1] = t;
                double tx[NP];
                memcpy(tx, x[b], sizeof tx), memcpy(x[b], x[b - 1], sizeof tx);
                memcpy(x[b - 1], tx, sizeof tx);
            }
        double size = 0;
        for (int v = 1; v <= NP; v++)
            for (int k = 0; k < NP; k++) size = fmax(size, fabs(x[v][k] - x[0][k]));
        if (isfinite(f[NP]) && f[NP] - f[0] <= 1e-12 * f[0] + 1e-300 && size < 1e-6) break;
        if (size < 1e-9) break;
        double cen[NP] = {0}, xr[NP], xe[NP], xc[NP];
        for (int v = 0; v < NP; v++)
            for (int k = 0; k < NP; k++) cen[k] += x[v][k] / NP;
        for (int k = 0; k < NP; k++) xr[k] = cen[k] + (cen[k] - x[NP][k]);
        double fr = cost(c, xr, NULL);
        if (fr < f[0]) {
            for (int k = 0; k < NP; k++) xe[k] = cen[k] + 2.0 * (cen[k] - x[NP][k]);
            double fe = cost(c, xe, NULL);
            if (fe < fr)
                memcpy(x[NP], xe, sizeof xe), f[NP] = fe;
            else
                memcpy(x[NP], xr, sizeof xr), f[NP] = fr;
        } else if (fr < f[NP - 1]) {
            memcpy(x[NP], xr, sizeof xr), f[NP] = fr;
        } else {
            int outside = fr < f[NP];
            for (int k = 0; k < NP; k++)
                xc[k] =
                    outside ? cen[k] + 0.5 * (xr[k] - cen[k]) : cen[k] + 0.5 * (x[NP][k] - cen[k]);
            double fc = cost(c, xc, NULL);
            if (fc < (outside ? fr : f[NP])) {
                memcpy(x[NP], xc, sizeof xc), f[NP] = fc;
            } else { /* shrink towards the best */
                for (int v = 1; v <= NP; v++) {
                    for (int k = 0; k < NP; k++) x[v][k] = x[0][k] + 0.5 * (x[v][k] - x[0][k]);
                    f[v] = cost(c, x[v], NULL);
                }
            }
        }
    }
    int b = 0;
    for (int v = 1; v <= NP; v++)
        if (f[v] < f[b]) b = v;
    memcpy(p, x[b], sizeof x[b]);
    return f[b];
}

int cc_sim_shape_fit(const float *y, uint32_t n, double fs_hz, cc_sim_shape_fitres *out, cc_err *e)
{
    if (!y || n < 64 || !(fs_hz > 0 && isfinite(fs_hz)))
        return cc_err_set(e, "sim: shape fit: expected >= 64 samples and fs > 0, found %u at %g Hz",
                          n, fs_hz);
    fitctx c = {.y = y, .n = n, .fs = fs_hz};
    uint32_t ip = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!isfinite(y[i])) return cc_err_set(e, "sim: shape fit: sample %u is not finite", i);
        c.yy += (double)y[i] * y[i];
        if (y[i] > y[ip]) ip = i;
    }
    if (!(y[ip] > 0))
        return cc_err_set(e, "sim: shape fit: the standard event has no positive peak");
    if (!(c.u = malloc(sizeof *c.u * n))) return cc_err_set(e, "sim: shape fit: out of memory");
    /* onset guess: where the rise leaves 5 % of the peak */
    uint32_t i5 = ip;
    while (i5 > 0 && y[i5 - 1] > 0.05f * y[ip]) i5--;
    double onset0 = (double)i5 - 1.0;
    double rise = fmax(2.0, 0.3 * (double)(ip - i5));
    /* starts: the presets, then a grid of (tau_in; tau_n, tau_t) */
    cc_sim_shape starts[2 + 6];
    int ns = 0;
    for (int k = CC_SIM_PHONON; k <= CC_SIM_LIGHT; k++) {
        cc_sim_channel ch = {0};
        cc_sim_channel_preset(&ch, (cc_sim_kind)k);
        starts[ns++] = ch.shape;
    }
    static const double tin[3] = {0.5, 2.0, 8.0}, tnt[2][2] = {{10.0, 50.0}, {40.0, 10.0}};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 2; b++)
            starts[ns++] = (cc_sim_shape){1.0, 0.3, tnt[b][0], tin[a], tnt[b][1]};
    double best[NP], fbest = HUGE_VAL;
    const double step[NP] = {0.5, 0.5, 0.5, 0.5, rise};
    for (int s = 0; s < ns; s++) {
        const cc_sim_shape *sh = &starts[s];
        if (!(sh->an > 0 && sh->at > 0)) continue;
        double p[NP] = {log(sh->at / sh->an), log(sh->tau_n), log(sh->tau_in), log(sh->tau_t),
                        onset0};
        nelder_mead(&c, p, step);
        double f = nelder_mead(&c, p, step);
        if (f < fbest) fbest = f, memcpy(best, p, sizeof best);
    }
    int rc = 0;
    double amp = 0;
    if (!isfinite(fbest) || !isfinite(cost(&c, best, &amp))) {
        rc = cc_err_set(e, "sim: shape fit: no start converged");
    } else {
        cc_sim_shape sh = shape_of(best);
        sh.an = amp, sh.at *= amp;
        out->shape = sh;
        out->onset = best[4];
        out->peak = sim_shape_peak(&sh, NULL);
        out->rms = sqrt(fbest / n);
        out->evals = c.evals;
    }
    free(c.u);
    return rc;
}
