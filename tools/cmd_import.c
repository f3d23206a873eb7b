/* cmd_import.c - `cryoclean import CARD`: load a model card and its weights,
 * run the self-test, print the architecture. Exit 0 when the model is usable,
 * 1 (with the reason) when it is not. */
#include <stdio.h>
#include <string.h>

#include "cc_nn.h"
#include "cmds.h"

int cmd_import(int argc, char **argv)
{
    if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        FILE *out = argc == 2 ? stdout : stderr;
        fprintf(out, "usage: cryoclean import CARD.yaml\n\n"
                     "Loads a model card and its weights (safetensors or seeded), checks every\n"
                     "tensor against the architecture, runs the card's self-test and prints the\n"
                     "layers, the parameter count and the self-test's max error.\n"
                     "Make cards from PyTorch with tools/export_torch.py (docs/NN.md).\n");
        return argc == 2 ? 0 : 2;
    }
    cc_err e = {{0}};
    cc_nn_model *m = cc_nn_load(argv[1], &e);
    if (!m) {
        fprintf(stderr, "cryoclean import: %s\n", e.msg);
        return 1;
    }
    cc_nn_describe(m, stdout);
    size_t n = 0;
    double err = cc_nn_selftest_error(m, &n);
    printf("parameters: %zu\nself-test: %zu inputs, max |error| %.3g vs the reference: ok\n",
           cc_nn_n_params(m), n, err);
    cc_nn_free(&m);
    return 0;
}
