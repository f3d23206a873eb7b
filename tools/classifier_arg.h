/* classifier_arg.h - how the front ends pick a classifier plugin: the
 * default plugin directory and a classifier made from `--classifier NAME`
 * plus an optional YAML file holding the plugin's `config:` block. Shared by
 * `cryoclean eval` and `cryoclean classify` (header-only: the helpers are
 * static inline, so tools/meson.build needs no new source).
 */
#ifndef CC_CLASSIFIER_ARG_H
#define CC_CLASSIFIER_ARG_H

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cc_registry.h"
#include "cc_yaml.h"

#ifndef CC_PLUGIN_DIR
#define CC_PLUGIN_DIR "/usr/local/lib/cryoclean/plugins"
#endif

/* The build's plugins/ next to this binary (tools/../plugins), else the
 * installed CC_PLUGIN_DIR. */
static inline void cc_tool_plugin_dir(char *out, size_t len)
{
    char self[PATH_MAX], real[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    struct stat st;
    if (n > 0) {
        self[n] = '\0';
        snprintf(out, len, "%s/../plugins", dirname(self));
        if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (realpath(out, real)) snprintf(out, len, "%s", real);
            return;
        }
    }
    snprintf(out, len, "%s", CC_PLUGIN_DIR);
}

/* Creates classifier `plugin` (also its name) from the YAML mapping in
 * conf_path (NULL: no config block); relative paths in it resolve against
 * its directory. 0 or -1 with e. */
static inline int cc_tool_classifier(cc_registry *reg, const char *plugin, const char *conf_path,
                                     cc_classifier *cl, cc_err *e)
{
    cc_ydoc *doc = NULL;
    char dir[PATH_MAX] = ".";
    if (conf_path) {
        if (!(doc = cc_ydoc_load_file(conf_path, e))) return -1;
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s", conf_path);
        snprintf(dir, sizeof dir, "%s", dirname(tmp)); /* not onto its own source */
    }
    int rc = cc_classifier_create(reg, plugin, plugin, doc ? doc->root : NULL, dir, cl, e);
    cc_ydoc_free(&doc);
    return rc;
}

#endif
