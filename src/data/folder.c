/* Image folders (data.h): scanning DIR/train/<class>/ and DIR/test/<class>/, the folder's
 * fingerprint, and the decoded cache file that every later load maps read-only.
 *
 * Cache file format, version 1 (all integers little-endian):
 *   0    char[8]  magic "NSIMGC1\n"
 *   8    u32      version (1)
 *   12   u32      size (S), channels (C), classes, n_train, n_eval, skipped, has_eval
 *   40   u64      fingerprint (below)
 *   48   u64      offsets of: train images, eval images, train labels, eval labels,
 *                 names; then names_len and the file's total length (7 x u64, to 104)
 *   ...  zero padding up to 4096
 *   images: n x S x S x C bytes (NHWC, the order of the sorted scan), train then eval,
 *   labels: one byte per image, names: the class names, then one "PATH: reason" per
 *   skipped file, each NUL-terminated. Every section starts on a 64-byte boundary.
 * The fingerprint is FNV-1a 64 over the format version, S, C, and for every file in scan
 * order its path relative to DIR, size and mtime (seconds and nanoseconds), so adding,
 * removing, renaming or touching an image rebuilds the cache, and nothing else does. */
#include "data/data.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/image.h"
#include "util/err.h"

#define CACHE_MAGIC "NSIMGC1\n"
#define CACHE_VERSION 1u /* bump when the format, the decoding or the filter changes */
#define HEADER_BYTES 4096
#define ALIGN 64
/* Images decoded in parallel before they are written: up to 256, in at most 64 MiB. */
#define CHUNK 256
#define CHUNK_BYTES (64u << 20)
#define MAX_THREADS 16
#define MAX_CLASSES 256
#define MAX_FILE_BYTES (256LL << 20) /* larger files are skipped unread */

static const char *const eval_dirs[] = {"test", "val", "validation"};

struct entry {
    char *rel; /* path relative to DIR: "train/cat/1.jpg"; owned */
    int label;
    int eval; /* 0 train, 1 eval */
    off_t size;
    struct timespec mtime;
    int regular; /* 0: a folder or device in a class folder (skipped) */
};

struct scan {
    char **classes; /* sorted names; owned */
    int n_classes;
    struct entry *e;
    int n, cap;
    int has_eval;
    char eval_dir[16];
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void scan_free(struct scan *s)
{
    for (int i = 0; i < s->n_classes; i++)
        free(s->classes[i]);
    free(s->classes);
    for (int i = 0; i < s->n; i++)
        free(s->e[i].rel);
    free(s->e);
    memset(s, 0, sizeof *s);
}

/* The sorted, non-hidden names in `path`; folders only if dirs_only. NULL-free list of
 * *n names (owned), 0 or -1 with ns_err naming the path. */
static int list_dir(const char *path, int dirs_only, char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(path);
    if (!d)
        return ns_err("%s: cannot open: %s", path, strerror(errno));
    char **v = NULL;
    int cnt = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (dirs_only) {
            char p[PATH_MAX];
            struct stat st;
            if (snprintf(p, sizeof p, "%s/%s", path, de->d_name) >= (int)sizeof p ||
                stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
                continue;
        }
        if (cnt == cap) {
            cap = cap ? 2 * cap : 64;
            char **nv = realloc(v, (size_t)cap * sizeof *v);
            if (!nv)
                goto oom;
            v = nv;
        }
        if (!(v[cnt] = strdup(de->d_name)))
            goto oom;
        cnt++;
    }
    closedir(d);
    if (cnt)
        qsort(v, (size_t)cnt, sizeof *v, cmp_str);
    *out = v;
    *n = cnt;
    return 0;
oom:
    closedir(d);
    for (int i = 0; i < cnt; i++)
        free(v[i]);
    free(v);
    return ns_err("%s: out of memory listing the folder", path);
}

static void free_list(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Say what an image folder looks like after a message about its missing train/. */
static int layout_hint(void)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", ns_errmsg());
    return ns_err("%s (an image folder has DIR/train/<class>/* and DIR/test/<class>/*)", msg);
}

int ns_data_folder_classes(const char *dir, int *classes)
{
    char p[PATH_MAX];
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return ns_err("%s: %s", dir, stat(dir, &st) < 0 ? strerror(errno) : "not a folder");
    if (snprintf(p, sizeof p, "%s/train", dir) >= (int)sizeof p)
        return ns_err("%s: path too long", dir);
    char **v;
    int n;
    if (list_dir(p, 1, &v, &n) < 0)
        return layout_hint();
    free_list(v, n);
    if (n == 0) {
        ns_err("%s: no class folders", p);
        return layout_hint();
    }
    if (n > MAX_CLASSES)
        return ns_err("%s: %d class folders, at most %d", p, n, MAX_CLASSES);
    *classes = n;
    return 0;
}

static int add_entry(struct scan *s, const char *rel, int label, int eval, const struct stat *st)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 1024;
        struct entry *ne = realloc(s->e, (size_t)cap * sizeof *ne);
        if (!ne)
            return ns_err("out of memory scanning the folder");
        s->e = ne;
        s->cap = cap;
    }
    struct entry *e = &s->e[s->n];
    if (!(e->rel = strdup(rel)))
        return ns_err("out of memory scanning the folder");
    e->label = label;
    e->eval = eval;
    e->size = st->st_size;
    e->mtime = st->st_mtim;
    e->regular = S_ISREG(st->st_mode);
    s->n++;
    return 0;
}

/* One split (train/ or the eval folder): every file of every class folder. */
static int scan_split(struct scan *s, const char *dir, const char *split, int eval)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, split) >= (int)sizeof path)
        return ns_err("%s: path too long", dir);
    char **cls;
    int n_cls;
    if (list_dir(path, 1, &cls, &n_cls) < 0)
        return -1;
    int rc = 0;
    if (n_cls == 0)
        rc = ns_err("%s: no class folders", path);
    if (!eval && n_cls > MAX_CLASSES)
        rc = ns_err("%s: %d class folders, at most %d", path, n_cls, MAX_CLASSES);
    if (!eval && !rc) {
        s->classes = cls;
        s->n_classes = n_cls;
    }
    for (int i = 0; i < n_cls && !rc; i++) {
        int label = i;
        if (eval) {
            char **hit =
                bsearch(&cls[i], s->classes, (size_t)s->n_classes, sizeof *s->classes, cmp_str);
            if (!hit) {
                rc = ns_err("%s/%s: class folder not in %s/train", path, cls[i], dir);
                break;
            }
            label = (int)(hit - s->classes);
        }
        char cpath[PATH_MAX];
        if (snprintf(cpath, sizeof cpath, "%s/%s", path, cls[i]) >= (int)sizeof cpath) {
            rc = ns_err("%s/%s: path too long", path, cls[i]);
            break;
        }
        char **files;
        int n_files;
        if (list_dir(cpath, 0, &files, &n_files) < 0) {
            rc = -1;
            break;
        }
        if (n_files == 0)
            rc = ns_err("%s: empty class folder", cpath);
        for (int k = 0; k < n_files && !rc; k++) {
            char fpath[PATH_MAX], rel[PATH_MAX];
            struct stat st;
            if (snprintf(rel, sizeof rel, "%s/%s/%s", split, cls[i], files[k]) >= (int)sizeof rel ||
                snprintf(fpath, sizeof fpath, "%s/%s", dir, rel) >= (int)sizeof fpath)
                rc = ns_err("%s/%s: path too long", cpath, files[k]);
            else if (stat(fpath, &st) < 0)
                rc = ns_err("%s: %s", fpath, strerror(errno));
            else
                rc = add_entry(s, rel, label, eval, &st);
        }
        free_list(files, n_files);
    }
    if (eval || rc)
        free_list(cls, n_cls);
    if (rc && !eval) {
        s->classes = NULL;
        s->n_classes = 0;
    }
    return rc;
}

static int scan_folder(const char *dir, struct scan *s)
{
    memset(s, 0, sizeof *s);
    struct stat st;
    if (stat(dir, &st) < 0)
        return ns_err("%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ns_err("%s: not a folder", dir);
    if (scan_split(s, dir, "train", 0) < 0) {
        layout_hint();
        scan_free(s);
        return -1;
    }
    for (int i = 0; i < (int)(sizeof eval_dirs / sizeof *eval_dirs); i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", dir, eval_dirs[i]);
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (scan_split(s, dir, eval_dirs[i], 1) < 0) {
                scan_free(s);
                return -1;
            }
            s->has_eval = 1;
            snprintf(s->eval_dir, sizeof s->eval_dir, "%s", eval_dirs[i]);
            break;
        }
    }
    return 0;
}

static void fnv(uint64_t *h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= 0x100000001b3ull;
    }
}

static uint64_t fingerprint(const struct scan *s, int size, int c)
{
    uint64_t h = 0xcbf29ce484222325ull;
    uint32_t head[3] = {CACHE_VERSION, (uint32_t)size, (uint32_t)c};
    fnv(&h, head, sizeof head);
    for (int i = 0; i < s->n; i++) {
        const struct entry *e = &s->e[i];
        int64_t v[3] = {(int64_t)e->size, (int64_t)e->mtime.tv_sec, (int64_t)e->mtime.tv_nsec};
        fnv(&h, e->rel, strlen(e->rel) + 1);
        fnv(&h, v, sizeof v);
    }
    return h;
}

/* ---------------------------------------------------------------- the cache file ----- */

struct header {
    char magic[8];
    uint32_t version, size, channels, classes, n_train, n_eval, skipped, has_eval;
    uint64_t fingerprint;
    uint64_t train_x, eval_x, train_y, eval_y, names, names_len, file_len;
};

static uint64_t align_up(uint64_t v)
{
    return (v + ALIGN - 1) / ALIGN * ALIGN;
}

/* Map `path` and check it is a complete cache for (fp, size, c); 1 with *map set, 0 when
 * absent or stale (anything wrong with it), never an error: a bad cache is rebuilt. */
static int cache_open(const char *path, uint64_t fp, int size, int c, void **map, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    struct header h;
    int ok = fstat(fd, &st) == 0 && st.st_size >= HEADER_BYTES &&
             pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && !memcmp(h.magic, CACHE_MAGIC, 8) &&
             h.version == CACHE_VERSION && h.fingerprint == fp && h.size == (uint32_t)size &&
             h.channels == (uint32_t)c && h.file_len == (uint64_t)st.st_size;
    const uint64_t img = (uint64_t)size * size * c;
    ok = ok && h.classes >= 1 && h.classes <= MAX_CLASSES && h.n_train >= 1 &&
         h.train_x >= HEADER_BYTES && h.train_x + img * h.n_train <= h.file_len &&
         h.eval_x + img * h.n_eval <= h.file_len && h.train_y + h.n_train <= h.file_len &&
         h.eval_y + h.n_eval <= h.file_len && h.names + h.names_len <= h.file_len;
    if (!ok) {
        close(fd);
        return 0;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return 0;
    *map = m;
    *len = (size_t)st.st_size;
    return 1;
}

struct job {
    const char *dir;
    const struct scan *s;
    int size, c, first, count;
    uint8_t *out;     /* count images */
    char (*why)[160]; /* "" = decoded; else the reason it was skipped */
    int next;         /* the work counter */
    pthread_mutex_t mu;
};

static void decode_one(struct job *j, int k)
{
    const struct entry *e = &j->s->e[j->first + k];
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", j->dir, e->rel);
    j->why[k][0] = 0;
    if (!e->regular) {
        snprintf(j->why[k], sizeof j->why[k], "not a regular file");
        return;
    }
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    if (!f) {
        snprintf(j->why[k], sizeof j->why[k], "%s", strerror(errno));
        return;
    }
    if (e->size > MAX_FILE_BYTES) {
        snprintf(j->why[k], sizeof j->why[k], "%lld bytes: too large for an image",
                 (long long)e->size);
        fclose(f);
        return;
    }
    size_t len = (size_t)e->size;
    buf = malloc(len ? len : 1);
    if (!buf || fread(buf, 1, len, f) != len) {
        snprintf(j->why[k], sizeof j->why[k], buf ? "short read" : "out of memory");
        fclose(f);
        free(buf);
        return;
    }
    fclose(f);
    struct ns_image im;
    if (ns_image_decode_min(buf, len, j->c, j->size, &im) < 0) {
        snprintf(j->why[k], sizeof j->why[k], "%s", ns_errmsg());
    } else {
        ns_image_center_square(&im, j->size, j->out + (size_t)k * j->size * j->size * j->c);
        ns_image_free(&im);
    }
    free(buf);
}

static void *decode_worker(void *arg)
{
    struct job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int k = j->next++;
        pthread_mutex_unlock(&j->mu);
        if (k >= j->count)
            return NULL;
        decode_one(j, k);
    }
}

static void decode_chunk(struct job *j, int threads)
{
    pthread_t tid[MAX_THREADS];
    int started = 0;
    j->next = 0;
    for (int t = 1; t < threads; t++)
        if (pthread_create(&tid[started], NULL, decode_worker, j) == 0)
            started++;
    decode_worker(j);
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
}

static int write_all(int fd, const void *p, size_t n, uint64_t off)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = pwrite(fd, b, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* Decode every file into the temp file `tmp` and rename it to `path`. */
static int cache_build(const struct ns_folder_opts *o, const struct scan *s, int c, uint64_t fp,
                       const char *tmp, const char *path)
{
    const size_t img = (size_t)o->size * o->size * c;
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return ns_err("%s: cannot create the cache: %s", tmp, strerror(errno));
    struct job j = {.dir = o->dir, .s = s, .size = o->size, .c = c};
    pthread_mutex_init(&j.mu, NULL);
    const int chunk = img * CHUNK <= CHUNK_BYTES ? CHUNK : (int)(CHUNK_BYTES / img) + 1;
    j.out = malloc((size_t)chunk * img);
    j.why = malloc((size_t)chunk * sizeof *j.why);
    uint8_t *decoded = calloc((size_t)s->n + 1, 1); /* 1: written to the cache */
    /* skipped names: grown as files fail */
    char *names = NULL;
    size_t names_len = 0;
    int rc = 0;
    if (!j.out || !j.why || !decoded) {
        rc = ns_err("out of memory building the cache");
        goto done;
    }
    for (int i = 0; i < s->n_classes; i++) { /* class names first */
        size_t l = strlen(s->classes[i]) + 1;
        char *nn = realloc(names, names_len + l);
        if (!nn) {
            rc = ns_err("out of memory building the cache");
            goto done;
        }
        names = nn;
        memcpy(names + names_len, s->classes[i], l);
        names_len += l;
    }
    int threads = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;

    /* Train entries come before eval entries in the scan, so one pass writes both
     * sections in order; the eval section starts where train ends (aligned). */
    int n_split[2] = {0, 0}, skipped = 0;
    int per_class[2][MAX_CLASSES] = {{0}};
    uint64_t off[2] = {HEADER_BYTES, 0};
    for (int first = 0; first < s->n && !rc; first += chunk) {
        j.first = first;
        j.count = s->n - first < chunk ? s->n - first : chunk;
        decode_chunk(&j, threads);
        for (int k = 0; k < j.count && !rc; k++) {
            const struct entry *e = &s->e[first + k];
            if (j.why[k][0]) {
                if (o->strict) {
                    rc = ns_err("%s/%s: %s (strict: no file may be skipped)", o->dir, e->rel,
                                j.why[k]);
                    break;
                }
                char line[PATH_MAX + 200];
                int l = snprintf(line, sizeof line, "%s: %s", e->rel, j.why[k]) + 1;
                char *nn = realloc(names, names_len + (size_t)l);
                if (!nn) {
                    rc = ns_err("out of memory building the cache");
                    break;
                }
                names = nn;
                memcpy(names + names_len, line, (size_t)l);
                names_len += (size_t)l;
                skipped++;
                continue;
            }
            int sp = e->eval;
            if (sp && !off[1])
                off[1] = align_up(off[0] + (uint64_t)n_split[0] * img);
            if (write_all(fd, j.out + (size_t)k * img, img, off[sp] + (uint64_t)n_split[sp] * img) <
                0)
                rc = ns_err("%s: cannot write the cache: %s", tmp, strerror(errno));
            decoded[first + k] = 1;
            per_class[sp][e->label]++;
            n_split[sp]++;
        }
    }
    if (rc)
        goto done;
    int had[2][MAX_CLASSES] = {{0}};
    for (int k = 0; k < s->n; k++)
        had[s->e[k].eval][s->e[k].label] = 1;
    for (int sp = 0; sp < 2; sp++)
        for (int i = 0; i < s->n_classes; i++) {
            /* a class folder of the split had files, but none decoded */
            if (had[sp][i] && per_class[sp][i] == 0) {
                rc = ns_err("%s/%s/%s: no image could be decoded (all skipped)", o->dir,
                            sp ? s->eval_dir : "train", s->classes[i]);
                goto done;
            }
        }
    if (!off[1])
        off[1] = align_up(off[0] + (uint64_t)n_split[0] * img);
    struct header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CACHE_MAGIC, 8);
    h.version = CACHE_VERSION;
    h.size = (uint32_t)o->size;
    h.channels = (uint32_t)c;
    h.classes = (uint32_t)s->n_classes;
    h.n_train = (uint32_t)n_split[0];
    h.n_eval = (uint32_t)n_split[1];
    h.skipped = (uint32_t)skipped;
    h.has_eval = (uint32_t)s->has_eval;
    h.fingerprint = fp;
    h.train_x = off[0];
    h.eval_x = off[1];
    h.train_y = align_up(off[1] + (uint64_t)n_split[1] * img);
    h.eval_y = align_up(h.train_y + (uint64_t)n_split[0]);
    h.names = align_up(h.eval_y + (uint64_t)n_split[1]);
    h.names_len = names_len;
    h.file_len = h.names + names_len;
    /* the labels of the decoded files, in scan order, split by section */
    uint8_t *ty = malloc((size_t)n_split[0] + 1), *ey = malloc((size_t)n_split[1] + 1);
    if (!ty || !ey) {
        rc = ns_err("out of memory building the cache");
    } else {
        int a = 0, b = 0;
        for (int k = 0; k < s->n; k++) {
            if (!decoded[k])
                continue;
            if (s->e[k].eval)
                ey[b++] = (uint8_t)s->e[k].label;
            else
                ty[a++] = (uint8_t)s->e[k].label;
        }
        if (write_all(fd, ty, (size_t)n_split[0], h.train_y) < 0 ||
            write_all(fd, ey, (size_t)n_split[1], h.eval_y) < 0 ||
            write_all(fd, names, names_len, h.names) < 0 || write_all(fd, &h, sizeof h, 0) < 0 ||
            ftruncate(fd, (off_t)h.file_len) < 0 || fsync(fd) < 0)
            rc = ns_err("%s: cannot write the cache: %s", tmp, strerror(errno));
    }
    free(ty);
    free(ey);
    if (!rc && rename(tmp, path) < 0)
        rc = ns_err("%s: cannot rename the cache into place: %s", path, strerror(errno));
done:
    close(fd);
    if (rc)
        unlink(tmp);
    pthread_mutex_destroy(&j.mu);
    free(j.out);
    free(j.why);
    free(decoded);
    free(names);
    return rc;
}

/* The default cache path (data.h): in DIR when it is writable, else in the user's cache. */
static int default_cache(const struct ns_folder_opts *o, int c, char *out, size_t n)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/.netspace-cache", o->dir) < (int)sizeof dir &&
        (mkdir(dir, 0755) == 0 || errno == EEXIST) && access(dir, W_OK) == 0) {
        if (snprintf(out, n, "%s/%dpx-%dch.nsc", dir, o->size, c) >= (int)n)
            return ns_err("%s: path too long", dir);
        return 0;
    }
    char real[PATH_MAX];
    if (!realpath(o->dir, real))
        return ns_err("%s: %s", o->dir, strerror(errno));
    uint64_t h = 0xcbf29ce484222325ull;
    fnv(&h, real, strlen(real));
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char base[PATH_MAX];
    if (xdg && *xdg)
        snprintf(base, sizeof base, "%s/netspace", xdg);
    else if (home && *home)
        snprintf(base, sizeof base, "%s/.cache/netspace", home);
    else
        return ns_err("%s: not writable, and neither XDG_CACHE_HOME nor HOME is set: give a "
                      "cache file",
                      o->dir);
    /* make base and its parent (~/.cache may not exist yet) */
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", base);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = 0;
        mkdir(parent, 0755);
    }
    if (mkdir(base, 0755) < 0 && errno != EEXIST)
        return ns_err("%s: not writable, and %s cannot be made: %s", o->dir, base, strerror(errno));
    if (snprintf(out, n, "%s/folder-%016llx-%dpx-%dch.nsc", base, (unsigned long long)h, o->size,
                 c) >= (int)n)
        return ns_err("%s: path too long", base);
    return 0;
}

/* One dataset over a fresh mapping of the cache: section 0 train, 1 eval. */
static int adopt_section(const char *path, uint64_t fp, int size, int c, int eval,
                         struct ns_dataset *d)
{
    memset(d, 0, sizeof *d);
    for (int k = 0; k < NS_DATA_MAX_CH; k++)
        d->std[k] = 1.0f;
    void *m;
    size_t len;
    if (!cache_open(path, fp, size, c, &m, &len))
        return ns_err("%s: the cache changed while it was being read", path);
    const struct header *h = m;
    int n = (int)(eval ? h->n_eval : h->n_train);
    if (n == 0) { /* an empty eval set: no mapping kept */
        snprintf(d->name, sizeof d->name, "folder");
        d->h = d->w = size;
        d->c = c;
        d->classes = (int)h->classes;
        munmap(m, len);
        return 0;
    }
    uint8_t *base = m;
    ns_data_adopt(d, "folder", n, size, size, c, (int)h->classes,
                  base + (eval ? h->eval_x : h->train_x), base + (eval ? h->eval_y : h->train_y));
    d->map = m;
    d->map_len = len;
    return 0;
}

int ns_data_load_folder(const struct ns_folder_opts *o, struct ns_dataset *train,
                        struct ns_dataset *eval, struct ns_folder_info *info)
{
    memset(train, 0, sizeof *train);
    memset(eval, 0, sizeof *eval);
    const int c = o->channels ? o->channels : 3;
    if (!o->dir || !*o->dir)
        return ns_err("image folder: no folder given");
    if (o->size < 8 || o->size > 1024)
        return ns_err("%s: image size %d is not in 8..1024", o->dir, o->size);
    if (c != 1 && c != 3)
        return ns_err("%s: %d channels (1 or 3)", o->dir, o->channels);
    struct scan s;
    if (scan_folder(o->dir, &s) < 0)
        return -1;
    uint64_t fp = fingerprint(&s, o->size, c);
    char path[PATH_MAX], tmp[PATH_MAX + 32], lock[PATH_MAX + 8];
    int rc = 0, built = 0, lfd = -1;
    if (o->cache) {
        if (snprintf(path, sizeof path, "%s", o->cache) >= (int)sizeof path)
            rc = ns_err("%s: path too long", o->cache);
    } else {
        rc = default_cache(o, c, path, sizeof path);
    }
    void *m = NULL;
    size_t len = 0;
    if (!rc && !cache_open(path, fp, o->size, c, &m, &len)) {
        /* Build under an exclusive lock; whoever waited finds the cache made. */
        snprintf(lock, sizeof lock, "%s.lock", path);
        lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (lfd < 0)
            rc = ns_err("%s: cannot open the cache lock: %s", lock, strerror(errno));
        else if (flock(lfd, LOCK_EX) < 0)
            rc = ns_err("%s: cannot lock: %s", lock, strerror(errno));
        if (!rc && !cache_open(path, fp, o->size, c, &m, &len)) {
            snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
            rc = cache_build(o, &s, c, fp, tmp, path);
            built = !rc;
        }
    }
    if (m)
        munmap(m, len);
    if (!rc && (adopt_section(path, fp, o->size, c, 0, train) < 0 ||
                adopt_section(path, fp, o->size, c, 1, eval) < 0))
        rc = -1;
    if (lfd >= 0)
        close(lfd); /* releases the lock */
    if (rc) {
        ns_data_free(train);
        ns_data_free(eval);
        scan_free(&s);
        return -1;
    }
    const struct header *h = train->map;
    const char *names = (const char *)train->map + h->names, *end = names + h->names_len;
    for (uint32_t i = 0; i < h->classes && names < end; i++)
        names += strnlen(names, (size_t)(end - names)) + 1;
    if (o->strict && h->skipped && names < end) { /* a cache made without strict */
        ns_err("%s/%.*s (strict: no file may be skipped)", o->dir,
               (int)strnlen(names, (size_t)(end - names)), names);
        ns_data_free(train);
        ns_data_free(eval);
        scan_free(&s);
        return -1;
    }
    for (uint32_t i = 0; i < h->skipped && names < end && o->log; i++) {
        char msg[PATH_MAX + 256];
        snprintf(msg, sizeof msg, "%s/%.*s (skipped)", o->dir,
                 (int)strnlen(names, (size_t)(end - names)), names);
        o->log(o->log_ctx, msg);
        names += strnlen(names, (size_t)(end - names)) + 1;
    }
    if (info) {
        memset(info, 0, sizeof *info);
        info->classes = (int)h->classes;
        info->skipped = (int)h->skipped;
        info->built = built;
        info->has_eval = s.has_eval;
        snprintf(info->eval_dir, sizeof info->eval_dir, "%s", s.eval_dir);
        info->fingerprint = fp;
        snprintf(info->cache, sizeof info->cache, "%s", path);
    }
    scan_free(&s);
    return 0;
}

int ns_data_folder_fingerprint(const char *dir, int size, int channels, uint64_t *fp)
{
    struct scan s;
    if (scan_folder(dir, &s) < 0)
        return -1;
    *fp = fingerprint(&s, size, channels ? channels : 3);
    scan_free(&s);
    return 0;
}
