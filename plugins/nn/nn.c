/* nn.c - the `nn` classifier plugin: a neural network from a model card.
 *
 * Configuration (the classifier's `config:` block):
 *     model: models/cait-cnn.yaml   # model card, relative to the config file's directory
 *     threads: 1                    # optional: OpenBLAS threads (process-wide; default:
 *                                   # leave OPENBLAS_NUM_THREADS alone)
 * create() loads the card and its weights and runs the card's self-test (a
 * model that fails is refused with the reason); each worker thread gets a
 * workspace for max_batch records; classify() runs the whole batch through
 * the network on the preprocessed inputs and writes P(clean). The loaded
 * model is read-only and shared by all workers.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_nn.h"
#include "cc_plugin.h"

void openblas_set_num_threads(int num_threads);

static int nn_create(const cc_ynode *conf, const cc_plugin_env *env, void **inst,
                     cc_classifier_info *info, cc_err *e)
{
    static const char *const keys[] = {"model", "threads", NULL};
    const char *model = NULL;
    int64_t threads = 0;
    if (!conf) return cc_err_set(e, "nn: a config block with 'model: CARD.yaml' is required");
    if (cc_y_expect(conf, CC_Y_MAP, "nn config", e) || cc_y_check_keys(conf, keys, e) ||
        cc_y_str(conf, "model", 1, &model, e) || cc_y_i64(conf, "threads", 0, 1, 64, &threads, e))
        return -1;
    char path[PATH_MAX];
    const char *dir = env && env->config_dir && *env->config_dir ? env->config_dir : ".";
    int k = model[0] == '/' ? snprintf(path, sizeof path, "%s", model)
                            : snprintf(path, sizeof path, "%s/%s", dir, model);
    if (k < 0 || (size_t)k >= sizeof path)
        return cc_y_err(e, cc_y_get(conf, "model"), "model: path too long");
    cc_nn_model *m = cc_nn_load(path, e);
    if (!m) return -1;
    if (threads) openblas_set_num_threads((int)threads);
    memset(info, 0, sizeof *info);
    info->input_len = cc_nn_input_len(m);
    info->default_cutoff = cc_nn_cutoff(m);
    snprintf(info->model, sizeof info->model, "%s", cc_nn_name(m));
    *inst = m;
    return 0;
}

static void *nn_ws_new(void *inst, size_t max_batch)
{
    return cc_nn_ws_new(inst, max_batch);
}

static int nn_classify(void *inst, void *ws, const cc_batch *b, float *scores, cc_err *e)
{
    const cc_nn_model *m = inst;
    if (!b->x || b->input_len != cc_nn_input_len(m))
        return cc_err_set(e, "nn %s: batch input length %zu, the model needs %zu", cc_nn_name(m),
                          b->x ? b->input_len : 0, cc_nn_input_len(m));
    return cc_nn_score(m, ws, b->x, b->n, scores, e);
}

static void nn_ws_free(void *inst, void *ws)
{
    (void)inst;
    cc_nn_ws *w = ws;
    cc_nn_ws_free(&w);
}

static void nn_destroy(void *inst)
{
    cc_nn_model *m = inst;
    cc_nn_free(&m);
}

const cc_classifier_ops *cryoclean_classifier_v1(void)
{
    static const cc_classifier_ops ops = {
        .abi = CC_PLUGIN_ABI,
        .size = sizeof(cc_classifier_ops),
        .name = "nn",
        .version = "1.0",
        .create = nn_create,
        .ws_new = nn_ws_new,
        .classify = nn_classify,
        .ws_free = nn_ws_free,
        .destroy = nn_destroy,
    };
    return &ops;
}
