/* badabi.c - a test-only plugin built against a future plugin ABI, so that
 * test_registry can check the loader refuses it with a clear message. */
#include "cc_plugin.h"

static const cc_classifier_ops ops = {
    .abi = CC_PLUGIN_ABI + 1,
    .size = sizeof(cc_classifier_ops),
    .name = "badabi",
    .version = "0",
};

const cc_classifier_ops *cryoclean_classifier_v1(void)
{
    return &ops;
}
