/* registry.c - see cc_registry.h. */
#include "cc_registry.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct loaded {
    char name[64];
    void *handle;
    const cc_classifier_ops *ops;
    struct loaded *next;
} loaded;

struct cc_registry {
    char *dir;
    loaded *head;
    void (*log)(void *ctx, int level, const char *msg);
    void *log_ctx;
};

/* the default plugin log: one line on stderr (a single fputs: whole lines
 * from concurrent threads) */
static void log_stderr(void *ctx, int level, const char *msg)
{
    (void)ctx, (void)level;
    char line[1024];
    snprintf(line, sizeof line, "%s\n", msg);
    fputs(line, stderr);
}

void cc_registry_set_log(cc_registry *r, void (*fn)(void *ctx, int level, const char *msg),
                         void *ctx)
{
    r->log = fn ? fn : log_stderr, r->log_ctx = fn ? ctx : NULL;
}

cc_registry *cc_registry_new(const char *dir)
{
    cc_registry *r = calloc(1, sizeof *r);
    if (!r || !(r->dir = strdup(dir ? dir : "."))) {
        free(r);
        return NULL;
    }
    r->log = log_stderr;
    return r;
}

void cc_registry_free(cc_registry **rp)
{
    if (!rp || !*rp) return;
    loaded *l = (*rp)->head;
    while (l) {
        loaded *n = l->next;
        dlclose(l->handle);
        free(l);
        l = n;
    }
    free((*rp)->dir);
    free(*rp);
    *rp = NULL;
}

static int valid_name(const char *s)
{
    if (!*s || strlen(s) >= 64) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

const cc_classifier_ops *cc_registry_get(cc_registry *r, const char *plugin, cc_err *e)
{
    for (loaded *l = r->head; l; l = l->next)
        if (!strcmp(l->name, plugin)) return l->ops;
    if (!valid_name(plugin))
        return cc_err_set(e, "plugin '%s': invalid name (letters, digits, '_' and '-' only)",
                          plugin),
               NULL;
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s.so", r->dir, plugin) >= (int)sizeof path)
        return cc_err_set(e, "plugin '%s': path too long", plugin), NULL;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return cc_err_set(e,
                          "plugin '%s': cannot load %s: %s (check the plugin directory and "
                          "`ldd %s`)",
                          plugin, path, dlerror(), path),
               NULL;
    cc_classifier_entry_fn fn;
    *(void **)&fn = dlsym(h, CC_PLUGIN_SYMBOL);
    if (!fn) {
        dlclose(h);
        return cc_err_set(e, "plugin '%s': %s does not export %s(): not a cryoclean classifier",
                          plugin, path, CC_PLUGIN_SYMBOL),
               NULL;
    }
    const cc_classifier_ops *ops = fn();
    if (!ops || ops->abi != CC_PLUGIN_ABI || ops->size < sizeof(cc_classifier_ops) ||
        !ops->create || !ops->classify || !ops->destroy || !ops->ws_new || !ops->ws_free) {
        unsigned abi = ops ? ops->abi : 0;
        dlclose(h);
        return cc_err_set(e, "plugin '%s': %s has plugin ABI %u, this cryoclean needs ABI %d%s",
                          plugin, path, abi, CC_PLUGIN_ABI,
                          abi == CC_PLUGIN_ABI ? " (incomplete ops table)" : ""),
               NULL;
    }
    loaded *l = calloc(1, sizeof *l);
    if (!l) {
        dlclose(h);
        return cc_err_set(e, "out of memory"), NULL;
    }
    snprintf(l->name, sizeof l->name, "%s", plugin);
    l->handle = h;
    l->ops = ops;
    l->next = r->head;
    r->head = l;
    return ops;
}

int cc_classifier_create(cc_registry *r, const char *name, const char *plugin, const cc_ynode *conf,
                         const char *config_dir, cc_classifier *out, cc_err *e)
{
    memset(out, 0, sizeof *out);
    const cc_classifier_ops *ops = cc_registry_get(r, plugin, e);
    if (!ops) return cc_err_prefix(e, "classifier '%s'", name);
    cc_plugin_env env = {.config_dir = config_dir ? config_dir : ".",
                         .name = name,
                         .log = r->log,
                         .log_ctx = r->log_ctx};
    cc_classifier_info info = {.default_cutoff = 0.5f};
    void *inst = NULL;
    if (ops->create(conf, &env, &inst, &info, e)) return cc_err_prefix(e, "%s", plugin);
    info.model[sizeof info.model - 1] = '\0';
    out->ops = ops;
    out->inst = inst;
    out->info = info;
    snprintf(out->name, sizeof out->name, "%s", name);
    return 0;
}

void cc_classifier_destroy(cc_classifier *c)
{
    if (c->ops && c->inst) c->ops->destroy(c->inst);
    memset(c, 0, sizeof *c);
}
