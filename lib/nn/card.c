/* card.c - the layer list of a model card: parsing, shape inference and the
 * parameter tensors each layer declares (names as PyTorch's state_dict has
 * them, so an exported state_dict maps one to one).
 *
 * Each layer is a YAML mapping with `type`, its hyper-parameters and an
 * optional `shape: [rows, cols]` that must equal the layer's per-record
 * output shape (so a card documents every shape and a wrong one is caught
 * at load). Shapes are [channels][length] for convolutional data and
 * [steps][features] for sequences; docs/NN.md lists every layer type.
 */
#include "nn_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXDIM 100000000LL

static int declare(cc_nn_model *m, nn_layer *l, const char *suffix, size_t ndim,
                   const size_t *shape, double lo, double hi, int derived, cc_err *e)
{
    if (m->n_tensors == m->cap_tensors) {
        size_t cap = m->cap_tensors ? 2 * m->cap_tensors : 32;
        nn_tensor *t = realloc(m->tensors, cap * sizeof *t);
        if (!t) return cc_err_set(e, "out of memory");
        m->tensors = t, m->cap_tensors = cap;
    }
    nn_tensor *t = &m->tensors[m->n_tensors];
    memset(t, 0, sizeof *t);
    int k = snprintf(t->p.name, sizeof t->p.name, "%s%s%s", l->name, *suffix ? "." : "", suffix);
    if (k < 0 || (size_t)k >= sizeof t->p.name)
        return cc_err_set(e, "layer '%s': tensor name too long", l->name);
    t->p.ndim = ndim;
    t->p.numel = 1;
    int ovf = 0;
    for (size_t i = 0; i < ndim; i++)
        t->p.shape[i] = shape[i], ovf |= __builtin_mul_overflow(t->p.numel, shape[i], &t->p.numel);
    if (ovf || t->p.numel > (1u << 28))
        return cc_err_set(e, "tensor '%s': %zu values, more than the 2^28 supported", t->p.name,
                          t->p.numel);
    t->lo = lo, t->hi = hi, t->derived = derived;
    if (!l->np) l->p0 = m->n_tensors;
    l->np++;
    m->n_tensors++;
    return 0;
}

#define DECL1(suf, a, lo, hi, der)                                                                 \
    do {                                                                                           \
        size_t s_[1] = {(a)};                                                                      \
        if (declare(m, l, suf, 1, s_, lo, hi, der, e)) return -1;                                  \
    } while (0)
#define DECL2(suf, a, b, lo, hi)                                                                   \
    do {                                                                                           \
        size_t s_[2] = {(a), (b)};                                                                 \
        if (declare(m, l, suf, 2, s_, lo, hi, 0, e)) return -1;                                    \
    } while (0)
#define DECL3(suf, a, b, c, lo, hi)                                                                \
    do {                                                                                           \
        size_t s_[3] = {(a), (b), (c)};                                                            \
        if (declare(m, l, suf, 3, s_, lo, hi, 0, e)) return -1;                                    \
    } while (0)

/* BatchNorm's four tensors plus the folded scale and shift. */
static int declare_bn(cc_nn_model *m, nn_layer *l, const char *pre, const char *der, size_t C,
                      cc_err *e)
{
    char s[64];
    const char *names[] = {"weight", "bias", "running_mean", "running_var"};
    const double lo[] = {0.5, -0.1, -0.1, 0.5}, hi[] = {1.5, 0.1, 0.1, 1.5};
    for (int i = 0; i < 4; i++) {
        snprintf(s, sizeof s, "%s%s%s", pre, *pre ? "." : "", names[i]);
        DECL1(s, C, lo[i], hi[i], 0);
    }
    snprintf(s, sizeof s, "%s%sscale", der, *der ? "." : "");
    DECL1(s, C, 0, 0, 1);
    snprintf(s, sizeof s, "%s%sshift", der, *der ? "." : "");
    DECL1(s, C, 0, 0, 1);
    return 0;
}

static int get_sz(const cc_ynode *map, const char *key, int required, int64_t min, size_t *out,
                  cc_err *e)
{
    int64_t v = (int64_t)*out;
    if (cc_y_i64(map, key, required, min, MAXDIM, &v, e)) return -1;
    *out = (size_t)v;
    return 0;
}

static int get_choice(const cc_ynode *map, const char *key, const char *const *choices, int *out,
                      cc_err *e)
{
    const char *s = NULL;
    if (cc_y_str(map, key, 0, &s, e)) return -1;
    if (!s) return 0;
    for (int i = 0; choices[i]; i++)
        if (!strcmp(s, choices[i])) return *out = i, 0;
    char known[128] = "";
    for (int i = 0; choices[i]; i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                 choices[i]);
    return cc_y_err(e, cc_y_get(map, key), "%s: expected one of %s, found '%s'", key, known, s);
}

static int expect_dim(const cc_ynode *n, const char *what, size_t want, size_t got, cc_err *e)
{
    if (want == got) return 0;
    return cc_y_err(e, n, "%s is %zu, but the incoming shape gives %zu", what, want, got);
}

static int parse_conv(cc_nn_model *m, nn_layer *l, const cc_ynode *n, cc_err *e)
{
    nn_conv1d *c = &l->u.conv;
    int bias = 1;
    c->stride = 1, c->dil = 1, c->pad = 0;
    if (get_sz(n, "in", 1, 1, &c->cin, e) || get_sz(n, "out", 1, 1, &c->cout, e) ||
        get_sz(n, "kernel", 1, 1, &c->k, e) || get_sz(n, "stride", 0, 1, &c->stride, e) ||
        get_sz(n, "padding", 0, 0, &c->pad, e) || get_sz(n, "dilation", 0, 1, &c->dil, e) ||
        cc_y_bool(n, "bias", 0, &bias, e))
        return -1;
    if (expect_dim(cc_y_get(n, "in"), "in", c->cin, l->in_r, e)) return -1;
    c->lin = l->in_c;
    size_t span = c->dil * (c->k - 1) + 1;
    if (c->lin + 2 * c->pad < span)
        return cc_y_err(e, n,
                        "conv1d: input length %zu (+2x padding %zu) shorter than the kernel "
                        "span %zu",
                        c->lin, c->pad, span);
    c->lout = (c->lin + 2 * c->pad - span) / c->stride + 1;
    l->out_r = c->cout, l->out_c = c->lout;
    double b = 1.0 / sqrt((double)(c->cin * c->k));
    DECL3("weight", c->cout, c->cin, c->k, -b, b);
    if (bias) DECL1("bias", c->cout, -b, b, 0);
    l->flops = 2.0 * (double)(c->cout * c->lout * c->cin * c->k);
    return 0;
}

static int parse_pool(nn_layer *l, const cc_ynode *n, cc_err *e)
{
    nn_pool1d *p = &l->u.pool;
    p->is_max = l->kind == NN_L_MAXPOOL1D;
    p->pad = 0;
    if (get_sz(n, "kernel", 1, 1, &p->k, e)) return -1;
    p->stride = p->k;
    if (get_sz(n, "stride", 0, 1, &p->stride, e) || get_sz(n, "padding", 0, 0, &p->pad, e))
        return -1;
    if (2 * p->pad > p->k)
        return cc_y_err(e, n, "%s: padding %zu larger than half the kernel %zu", l->type, p->pad,
                        p->k);
    p->lin = l->in_c;
    if (p->lin + 2 * p->pad < p->k)
        return cc_y_err(e, n, "%s: input length %zu shorter than the kernel %zu", l->type, p->lin,
                        p->k);
    p->lout = (p->lin + 2 * p->pad - p->k) / p->stride + 1;
    l->out_r = l->in_r, l->out_c = p->lout;
    return 0;
}

static int parse_linear(cc_nn_model *m, nn_layer *l, const cc_ynode *n, cc_err *e)
{
    int bias = 1;
    if (get_sz(n, "in", 1, 1, &l->u.lin.nin, e) || get_sz(n, "out", 1, 1, &l->u.lin.nout, e) ||
        cc_y_bool(n, "bias", 0, &bias, e))
        return -1;
    if (expect_dim(cc_y_get(n, "in"), "in", l->u.lin.nin, l->in_c, e)) return -1;
    l->u.lin.bias = bias;
    l->out_r = l->in_r, l->out_c = l->u.lin.nout;
    double b = 1.0 / sqrt((double)l->u.lin.nin);
    DECL2("weight", l->u.lin.nout, l->u.lin.nin, -b, b);
    if (bias) DECL1("bias", l->u.lin.nout, -b, b, 0);
    l->flops = 2.0 * (double)(l->in_r * l->u.lin.nin * l->u.lin.nout);
    return 0;
}

static int parse_lstm(cc_nn_model *m, nn_layer *l, const cc_ynode *n, cc_err *e)
{
    nn_lstm *s = &l->u.lstm;
    int bidir = 0;
    s->layers = 1;
    if (get_sz(n, "input", 1, 1, &s->nin, e) || get_sz(n, "hidden", 1, 1, &s->H, e) ||
        get_sz(n, "layers", 0, 1, &s->layers, e) || cc_y_bool(n, "bidirectional", 0, &bidir, e))
        return -1;
    if (expect_dim(cc_y_get(n, "input"), "input", s->nin, l->in_c, e)) return -1;
    if (s->layers > 16)
        return cc_y_err(e, cc_y_get(n, "layers"), "lstm: at most 16 layers, found %zu", s->layers);
    s->T = l->in_r, s->dirs = bidir ? 2 : 1;
    l->out_r = s->T, l->out_c = s->dirs * s->H;
    double b = 1.0 / sqrt((double)s->H);
    l->flops = 0;
    for (size_t k = 0; k < s->layers; k++)
        for (size_t d = 0; d < s->dirs; d++) {
            size_t nin = k ? s->dirs * s->H : s->nin, G = 4 * s->H;
            char suf[48];
            const char *r = d ? "_reverse" : "";
            snprintf(suf, sizeof suf, "weight_ih_l%zu%s", k, r);
            DECL2(suf, G, nin, -b, b);
            snprintf(suf, sizeof suf, "weight_hh_l%zu%s", k, r);
            DECL2(suf, G, s->H, -b, b);
            snprintf(suf, sizeof suf, "bias_ih_l%zu%s", k, r);
            DECL1(suf, G, -b, b, 0);
            snprintf(suf, sizeof suf, "bias_hh_l%zu%s", k, r);
            DECL1(suf, G, -b, b, 0);
            snprintf(suf, sizeof suf, "bias_l%zu%s.summed", k, r);
            DECL1(suf, G, 0, 0, 1);
            l->flops += 2.0 * (double)(s->T * G * (nin + s->H));
        }
    return 0;
}

static int parse_encoder(cc_nn_model *m, nn_layer *l, const cc_ynode *n, cc_err *e)
{
    nn_encoder *c = &l->u.enc;
    int normk = 0, act = 0;
    double eps = 1e-5;
    static const char *const norms[] = {"batch", "layer", NULL}, *const acts[] = {"gelu", "relu",
                                                                                  NULL};
    if (get_sz(n, "d_model", 1, 1, &c->D, e) || get_sz(n, "heads", 1, 1, &c->heads, e) ||
        get_sz(n, "d_ff", 1, 1, &c->dff, e) || get_choice(n, "norm", norms, &normk, e) ||
        get_choice(n, "activation", acts, &act, e) || cc_y_f64(n, "eps", 0, 0, 1, &eps, e))
        return -1;
    if (expect_dim(cc_y_get(n, "d_model"), "d_model", c->D, l->in_c, e)) return -1;
    if (c->D % c->heads)
        return cc_y_err(e, n, "encoder: d_model %zu is not a multiple of heads %zu", c->D,
                        c->heads);
    c->T = l->in_r, c->layernorm = normk == 1, c->gelu = act == 0, c->eps = (float)eps;
    l->out_r = l->in_r, l->out_c = l->in_c, l->in_place = 1;
    const size_t D = c->D, F = c->dff;
    double bd = 1.0 / sqrt((double)D), bf = 1.0 / sqrt((double)F);
    DECL2("self_attn.W_Q.weight", D, D, -bd, bd);
    DECL2("self_attn.W_K.weight", D, D, -bd, bd);
    DECL2("self_attn.W_V.weight", D, D, -bd, bd);
    DECL2("self_attn.W_O.weight", D, D, -bd, bd);
    DECL2("ff.0.weight", F, D, -bd, bd);
    DECL1("ff.0.bias", F, -bd, bd, 0);
    DECL2("ff.2.weight", D, F, -bf, bf);
    DECL1("ff.2.bias", D, -bf, bf, 0);
    if (c->layernorm) {
        DECL1("layernorm_attn.weight", D, 0.5, 1.5, 0);
        DECL1("layernorm_attn.bias", D, -0.1, 0.1, 0);
        DECL1("layernorm_ffn.weight", D, 0.5, 1.5, 0);
        DECL1("layernorm_ffn.bias", D, -0.1, 0.1, 0);
    } else if (declare_bn(m, l, "batchnorm_attn.1", "norm_attn", D, e) ||
               declare_bn(m, l, "batchnorm_ffn.1", "norm_ffn", D, e))
        return -1;
    const double T = (double)c->T;
    l->flops = 2.0 * T * D * 4 * D + 4.0 * T * T * D + 4.0 * T * D * F;
    return 0;
}

static int parse_posenc(cc_nn_model *m, nn_layer *l, const cc_ynode *n, cc_err *e)
{
    static const char *const kinds[] = {"learned", "sinusoidal", NULL};
    int k = 0;
    if (get_choice(n, "kind", kinds, &k, e)) return -1;
    l->u.pe.learned = k == 0;
    l->out_r = l->in_r, l->out_c = l->in_c, l->in_place = 1;
    size_t s[2] = {l->in_r, l->in_c};
    return declare(m, l, l->u.pe.learned ? "" : "sinusoidal", 2, s, -0.02, 0.02, !l->u.pe.learned,
                   e);
}

static int parse_norm(cc_nn_model *m, nn_layer *l, const cc_ynode *n, cc_err *e)
{
    double eps = 1e-5;
    size_t nf = 0;
    if (get_sz(n, "features", 1, 1, &nf, e) || cc_y_f64(n, "eps", 0, 0, 1, &eps, e)) return -1;
    l->u.norm.eps = (float)eps;
    l->out_r = l->in_r, l->out_c = l->in_c, l->in_place = 1;
    if (l->kind == NN_L_BATCHNORM) {
        if (expect_dim(cc_y_get(n, "features"), "features (channels)", nf, l->in_r, e)) return -1;
        return declare_bn(m, l, "", "", nf, e);
    }
    if (expect_dim(cc_y_get(n, "features"), "features (last axis)", nf, l->in_c, e)) return -1;
    DECL1("weight", nf, 0.5, 1.5, 0);
    DECL1("bias", nf, -0.1, 0.1, 0);
    return 0;
}

static int parse_reshape(nn_layer *l, const cc_ynode *n, cc_err *e)
{
    const cc_ynode *s = cc_y_get(n, "shape");
    int64_t a, b;
    if (cc_y_expect(s, CC_Y_SEQ, "reshape: shape", e)) return -1;
    if (s->n != 2) return cc_y_err(e, s, "reshape: shape must be [rows, cols]");
    if (cc_y_node_i64(s->kids[0], 1, MAXDIM, &a, e) || cc_y_node_i64(s->kids[1], 1, MAXDIM, &b, e))
        return -1;
    if ((size_t)(a * b) != l->in_r * l->in_c)
        return cc_y_err(e, s, "reshape: [%lld, %lld] has %lld values, the input [%zu, %zu] has %zu",
                        (long long)a, (long long)b, (long long)(a * b), l->in_r, l->in_c,
                        l->in_r * l->in_c);
    l->out_r = (size_t)a, l->out_c = (size_t)b, l->in_place = 1;
    return 0;
}

typedef struct {
    const char *type;
    nn_kind kind;
    const char *const keys[10];
} layer_kind;

static const layer_kind kinds[] = {
    {"conv1d",
     NN_L_CONV1D,
     {"type", "name", "shape", "in", "out", "kernel", "stride", "padding", "dilation", "bias"}},
    {"maxpool1d", NN_L_MAXPOOL1D, {"type", "shape", "kernel", "stride", "padding"}},
    {"avgpool1d", NN_L_AVGPOOL1D, {"type", "shape", "kernel", "stride", "padding"}},
    {"linear", NN_L_LINEAR, {"type", "name", "shape", "in", "out", "bias"}},
    {"relu", NN_L_ACT, {"type", "shape"}},
    {"sigmoid", NN_L_ACT, {"type", "shape"}},
    {"tanh", NN_L_ACT, {"type", "shape"}},
    {"gelu", NN_L_ACT, {"type", "shape"}},
    {"softmax", NN_L_SOFTMAX, {"type", "shape"}},
    {"log_softmax", NN_L_LOGSOFTMAX, {"type", "shape"}},
    {"flatten", NN_L_FLATTEN, {"type", "shape"}},
    {"reshape", NN_L_RESHAPE, {"type", "shape"}},
    {"transpose", NN_L_TRANSPOSE, {"type", "shape"}},
    {"dropout", NN_L_DROPOUT, {"type", "shape", "p"}},
    {"lstm", NN_L_LSTM, {"type", "name", "shape", "input", "hidden", "layers", "bidirectional"}},
    {"posenc", NN_L_POSENC, {"type", "name", "shape", "kind"}},
    {"encoder",
     NN_L_ENCODER,
     {"type", "name", "shape", "d_model", "heads", "d_ff", "norm", "activation", "eps"}},
    {"batchnorm1d", NN_L_BATCHNORM, {"type", "name", "shape", "features", "eps"}},
    {"layernorm", NN_L_LAYERNORM, {"type", "name", "shape", "features", "eps"}},
};

static int parse_layer(cc_nn_model *m, nn_layer *l, const cc_ynode *n, cc_err *e)
{
    const char *type = NULL, *name = NULL;
    if (cc_y_expect(n, CC_Y_MAP, "layer", e) || cc_y_str(n, "type", 1, &type, e)) return -1;
    const layer_kind *k = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i].type, type)) k = &kinds[i];
    if (!k) {
        char known[400] = "";
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                     kinds[i].type);
        return cc_y_err(e, cc_y_get(n, "type"), "unknown layer type '%s' (known: %s)", type, known);
    }
    const char *keys[11] = {0};
    memcpy(keys, k->keys, sizeof k->keys);
    if (cc_y_check_keys(n, keys, e)) return -1;
    l->kind = k->kind, l->type = k->type;
    int has_name = 0;
    for (int i = 0; i < 10 && k->keys[i]; i++) has_name |= !strcmp(k->keys[i], "name");
    if (has_name) {
        if (cc_y_str(n, "name", 1, &name, e)) return -1;
        if (strlen(name) >= sizeof l->name)
            return cc_y_err(e, cc_y_get(n, "name"), "name too long");
        strcpy(l->name, name);
    }
    l->out_r = l->in_r, l->out_c = l->in_c;
    int rc = 0;
    switch (l->kind) {
    case NN_L_CONV1D:
        rc = parse_conv(m, l, n, e);
        break;
    case NN_L_MAXPOOL1D:
    case NN_L_AVGPOOL1D:
        rc = parse_pool(l, n, e);
        break;
    case NN_L_LINEAR:
        rc = parse_linear(m, l, n, e);
        break;
    case NN_L_ACT:
        l->in_place = 1;
        l->u.act = !strcmp(type, "relu")      ? NN_ACT_RELU
                   : !strcmp(type, "sigmoid") ? NN_ACT_SIGMOID
                   : !strcmp(type, "tanh")    ? NN_ACT_TANH
                                              : NN_ACT_GELU;
        break;
    case NN_L_SOFTMAX:
    case NN_L_LOGSOFTMAX:
        l->in_place = 1;
        break;
    case NN_L_DROPOUT: {
        double p = 0.5; /* PyTorch's default; used in training only */
        rc = cc_y_f64(n, "p", 0, 0, 1, &p, e);
        l->u.drop.p = (float)p, l->in_place = 1;
        break;
    }
    case NN_L_FLATTEN:
        l->out_r = 1, l->out_c = l->in_r * l->in_c, l->in_place = 1;
        break;
    case NN_L_RESHAPE:
        rc = parse_reshape(l, n, e);
        break;
    case NN_L_TRANSPOSE:
        l->out_r = l->in_c, l->out_c = l->in_r;
        break;
    case NN_L_LSTM:
        rc = parse_lstm(m, l, n, e);
        break;
    case NN_L_POSENC:
        rc = parse_posenc(m, l, n, e);
        break;
    case NN_L_ENCODER:
        rc = parse_encoder(m, l, n, e);
        break;
    case NN_L_BATCHNORM:
    case NN_L_LAYERNORM:
        rc = parse_norm(m, l, n, e);
        break;
    }
    if (rc) return -1;
    const cc_ynode *s = cc_y_get(n, "shape");
    if (s && l->kind != NN_L_RESHAPE) {
        int64_t a = -1, b = -1;
        if (s->type != CC_Y_SEQ || s->n != 2 || cc_y_node_i64(s->kids[0], 1, MAXDIM, &a, NULL) ||
            cc_y_node_i64(s->kids[1], 1, MAXDIM, &b, NULL))
            return cc_y_err(e, s, "shape: expected [rows, cols] of positive integers");
        if ((size_t)a != l->out_r || (size_t)b != l->out_c)
            return cc_y_err(e, s,
                            "%s: the card says output shape [%lld, %lld], the layer gives "
                            "[%zu, %zu]",
                            type, (long long)a, (long long)b, l->out_r, l->out_c);
    }
    return 0;
}

int nn_card_layers(cc_nn_model *m, const cc_ynode *seq, cc_err *e)
{
    if (cc_y_expect(seq, CC_Y_SEQ, "layers", e)) return -1;
    if (!seq->n) return cc_y_err(e, seq, "layers: the list is empty");
    if (!(m->layers = calloc(seq->n, sizeof *m->layers))) return cc_err_set(e, "out of memory");
    size_t r = m->input_ch, c = m->input_len;
    m->max_act = r * c;
    for (size_t i = 0; i < seq->n; i++) {
        nn_layer *l = &m->layers[i];
        l->in_r = r, l->in_c = c;
        m->n_layers = i + 1;
        if (parse_layer(m, l, seq->kids[i], e)) return -1; /* positioned at the layer */
        r = l->out_r, c = l->out_c;
        if (r * c > (1u << 24))
            return cc_y_err(e, seq->kids[i], "%s: output [%zu, %zu] exceeds 2^24 values per record",
                            l->type, r, c);
        if (r * c > m->max_act) m->max_act = r * c;
    }
    m->n_out = r * c;
    return 0;
}

size_t nn_layer_scratch(const nn_layer *l, size_t B)
{
    switch (l->kind) {
    case NN_L_CONV1D:
        return nn_conv1d_scratch(&l->u.conv, B);
    case NN_L_LSTM:
        return nn_lstm_scratch(&l->u.lstm, B);
    case NN_L_ENCODER:
        return nn_encoder_scratch(&l->u.enc, B);
    default:
        return 0;
    }
}
