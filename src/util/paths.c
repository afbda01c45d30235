/* The installed share folder (paths.h). */
#include "util/paths.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NS_DATADIR /* set by CMake from the install prefix */
#define NS_DATADIR "/usr/local/share/netspace"
#endif
#ifndef NS_DATADIR_REL
#define NS_DATADIR_REL "share/netspace"
#endif
#ifndef NS_BINDIR_REL
#define NS_BINDIR_REL "bin"
#endif

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *ns_share_dir(void)
{
    static char dir[PATH_MAX];
    if (dir[0])
        return dir;
    snprintf(dir, sizeof dir, "%s", NS_DATADIR);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return dir;
    exe[n] = 0;
    char *slash = strrchr(exe, '/'); /* exe = PREFIX/BINDIR/netspace */
    if (!slash)
        return dir;
    *slash = 0;
    size_t len = strlen(exe), blen = strlen(NS_BINDIR_REL);
    if (len <= blen || exe[len - blen - 1] != '/' || strcmp(exe + len - blen, NS_BINDIR_REL))
        return dir;
    exe[len - blen - 1] = 0;
    char cand[PATH_MAX];
    if (snprintf(cand, sizeof cand, "%s/%s", exe, NS_DATADIR_REL) < (int)sizeof cand &&
        is_dir(cand))
        snprintf(dir, sizeof dir, "%s", cand);
    return dir;
}
