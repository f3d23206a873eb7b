/* cc_registry.h - loading classifier plugins and building classifier instances.
 *
 * The registry dlopen()s <plugin_dir>/<name>.so (never a path outside
 * plugin_dir: names with '/' or ".." are refused), checks the ABI and keeps
 * the handle open until cc_registry_free(). A cc_classifier pairs an ops table
 * with one created instance and its info; the daemon and the offline tools
 * use it the same way. No globals: each registry is independent.
 */
#ifndef CC_REGISTRY_H
#define CC_REGISTRY_H

#include "cc_plugin.h"

typedef struct cc_registry cc_registry;

typedef struct cc_classifier {
    const cc_classifier_ops *ops;
    void *inst;
    cc_classifier_info info;
    char name[64]; /* configured name */
} cc_classifier;

/* Creates a registry reading plugins from dir (copied). NULL on allocation failure. */
cc_registry *cc_registry_new(const char *dir);

/* Where plugins' log lines go (cc_plugin_env.log): fn(ctx, level, msg) must
 * be thread-safe. By default they go to stderr as "<name>: <msg>". */
void cc_registry_set_log(cc_registry *r, void (*fn)(void *ctx, int level, const char *msg),
                         void *ctx);

/* Frees the registry and unloads its plugins; all classifiers made from it
 * must have been destroyed first. Sets *r to NULL. */
void cc_registry_free(cc_registry **r);

/* Returns the ops of plugin name, loading it on first use. On failure returns
 * NULL with e naming the file and the cause (dlerror text, missing symbol,
 * ABI mismatch). */
const cc_classifier_ops *cc_registry_get(cc_registry *r, const char *plugin, cc_err *e);

/* Creates a classifier named name from plugin with conf; 0 or -1 with e. */
int cc_classifier_create(cc_registry *r, const char *name, const char *plugin, const cc_ynode *conf,
                         const char *config_dir, cc_classifier *out, cc_err *e);

/* Destroys the instance held by c (if any) and zeroes c. */
void cc_classifier_destroy(cc_classifier *c);

#endif
