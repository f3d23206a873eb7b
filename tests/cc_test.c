/* cc_test.c - see cc_test.h. */
#include "cc_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const char *cct_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) ck_abort_msg("environment variable %s is not set (run through meson test)", name);
    return v;
}

const char *cct_path(const char *envvar, const char *rel, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", cct_env(envvar), rel);
    return buf;
}

const char *cct_tmpdir(char *buf, size_t len)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, len, "%s/cctest.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(buf)) ck_abort_msg("mkdtemp %s failed", buf);
    return buf;
}

void cct_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

int cct_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) ||
        getsockname(s, (struct sockaddr *)&a, &l))
        ck_abort_msg("cannot find a free port");
    int port = ntohs(a.sin_port);
    close(s);
    return port;
}

int cct_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr), run = srunner_ntests_run(sr);
    srunner_free(sr);
    printf("%d passed, %d failed\n", run - failed, failed);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
