/* Reading datasets from disk: Fashion-MNIST (IDX), CIFAR-10 (binary batches), and the
 * ns_data_load() dispatcher. Every file goes through zlib's gz* functions, which read
 * gzip and plain files alike, so "train-images-idx3-ubyte" and "...ubyte.gz" both work.
 *
 * Headers are never trusted for memory: buffers grow as bytes actually arrive, so a header
 * that claims 2^31 images costs what the file really holds, then fails as "truncated". */
#include "data/data.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/err.h"

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define CIFAR_SIDE 32
#define CIFAR_PLANE (CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + 3 * CIFAR_PLANE)
#define CIFAR_CLASSES 10
#define FASHION_CLASSES 10
/* gzread takes an unsigned count; stay well inside it. */
#define READ_CHUNK (1u << 24)

static const char *const fashion_hint =
    "install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) "
    "or point --data-dir at a folder with the IDX files";
static const char *const cifar_hint =
    "get the CIFAR-10 binary version (cifar-10-binary.tar.gz, "
    "https://www.cs.toronto.edu/~kriz/cifar.html), unpack it into ./data, "
    "or point --data-dir at the folder with data_batch_1.bin ... test_batch.bin";

static const char *const kind_names[] = {"fashion-mnist", "cifar10", "synthetic", "folder"};

int ns_data_kind_from_name(const char *name)
{
    for (int k = 0; k < (int)(sizeof kind_names / sizeof kind_names[0]); k++)
        if (name && strcmp(name, kind_names[k]) == 0)
            return k;
    return ns_err("unknown dataset '%s' (want fashion-mnist, cifar10, synthetic or folder)",
                  name ? name : "(null)");
}

const char *ns_data_kind_name(enum ns_data_kind kind)
{
    if ((int)kind < 0 || (int)kind >= (int)(sizeof kind_names / sizeof kind_names[0]))
        return "?";
    return kind_names[kind];
}

const char *ns_data_default_dir(enum ns_data_kind kind)
{
    switch (kind) {
    case NS_DATA_FASHION_MNIST:
        return "/usr/share/datasets/fashion-mnist";
    case NS_DATA_CIFAR10:
        return "./data/cifar-10-batches-bin";
    default:
        return NULL;
    }
}

/* Open `path` for reading; if it is missing, try the name with ".gz" removed or added.
 * `used` (PATH_MAX bytes) receives the name opened, for later messages. The error names
 * the path as given, with `hint` appended when the file does not exist. */
static gzFile open_any(const char *path, const char *hint, char *used)
{
    snprintf(used, PATH_MAX, "%s", path);
    gzFile f = gzopen(path, "rb");
    if (f)
        return f;
    int err = errno;
    if (err == ENOENT) {
        char alt[PATH_MAX];
        size_t len = strlen(path);
        int n = len > 3 && strcmp(path + len - 3, ".gz") == 0
                    ? snprintf(alt, sizeof alt, "%.*s", (int)(len - 3), path)
                    : snprintf(alt, sizeof alt, "%s.gz", path);
        if (n > 0 && (size_t)n < sizeof alt) {
            f = gzopen(alt, "rb");
            if (f) {
                memcpy(used, alt, (size_t)n + 1);
                return f;
            }
        }
    }
    if (err == 0)
        return ns_err("%s: cannot open (out of memory)", path), NULL;
    if (err == ENOENT && hint)
        return ns_err("%s: %s; %s", path, strerror(err), hint), NULL;
    return ns_err("%s: %s", path, strerror(err)), NULL;
}

/* Read up to `len` bytes; *got says how many arrived. -1 with ns_err on a read error (a
 * corrupt gzip stream, a folder); a short read is not an error here. */
static int read_bytes(gzFile f, const char *path, void *buf, size_t len, size_t *got)
{
    *got = 0;
    while (*got < len) {
        size_t want = len - *got < READ_CHUNK ? len - *got : READ_CHUNK;
        int r = gzread(f, (char *)buf + *got, (unsigned)want);
        if (r < 0) {
            int errnum, e = errno;
            const char *msg = gzerror(f, &errnum);
            if (errnum == Z_ERRNO)
                msg = strerror(e);
            /* zlib's message starts with the path it was opened with; ours says it. */
            size_t plen = strlen(path);
            if (strncmp(msg, path, plen) == 0 && strncmp(msg + plen, ": ", 2) == 0)
                msg += plen + 2;
            return ns_err("%s: read error: %s", path, msg);
        }
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return 0;
}

/* Read exactly `len` bytes into a buffer that grows with the data (see the top comment).
 * `what` names the bytes in the truncation message ("image", "label"). */
static uint8_t *read_payload(gzFile f, const char *path, size_t len, const char *what)
{
    size_t cap = len < (64u << 20) ? len : (64u << 20), have = 0;
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf)
        return ns_err("%s: out of memory for %zu bytes", path, cap), NULL;
    while (have < len) {
        if (have == cap) {
            size_t ncap = cap * 2 < len ? cap * 2 : len;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                return ns_err("%s: out of memory for %zu bytes", path, ncap), NULL;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got;
        if (read_bytes(f, path, buf + have, cap - have, &got) < 0) {
            free(buf);
            return NULL;
        }
        have += got;
        if (have < cap)
            break; /* end of file */
    }
    if (have < len) {
        free(buf);
        return ns_err("%s: truncated: got %zu of %zu %s bytes", path, have, len, what), NULL;
    }
    /* Bytes beyond what the header announces mean the header is wrong. */
    uint8_t extra;
    size_t got;
    if (read_bytes(f, path, &extra, 1, &got) < 0 || got) {
        free(buf);
        if (got)
            ns_err("%s: trailing data after the %zu %s bytes the header announces", path, len,
                   what);
        return NULL;
    }
    return buf;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Header of an IDX file: magic, then `ndims` big-endian 32-bit sizes. */
static int read_idx_header(gzFile f, const char *path, uint32_t magic, const char *kind,
                           uint32_t *dims, int ndims)
{
    uint8_t hdr[16];
    size_t len = 4 * (size_t)(ndims + 1), got;
    if (read_bytes(f, path, hdr, len, &got) < 0)
        return -1;
    if (got < 4 || be32(hdr) != magic) {
        if (got < 4)
            return ns_err("%s: truncated header: got %zu of %zu bytes", path, got, len);
        return ns_err("%s: bad magic 0x%08x (not an IDX %s file, want 0x%08x)", path, be32(hdr),
                      kind, magic);
    }
    if (got < len)
        return ns_err("%s: truncated header: got %zu of %zu bytes", path, got, len);
    for (int i = 0; i < ndims; i++)
        dims[i] = be32(hdr + 4 + 4 * i);
    return 0;
}

int ns_data_load_idx(struct ns_dataset *d, const char *images, const char *labels, int classes)
{
    memset(d, 0, sizeof *d);
    if (classes < 1 || classes > 256)
        return ns_err("%s: classes %d is not in [1, 256]", labels, classes);
    uint32_t idims[3] = {0}, ldims[1] = {0};
    uint8_t *x = NULL, *y = NULL;
    char ipath[PATH_MAX], lpath[PATH_MAX];
    gzFile f = open_any(images, fashion_hint, ipath);
    if (!f)
        return -1;
    images = ipath;
    if (read_idx_header(f, images, IDX_IMAGES_MAGIC, "image", idims, 3) < 0)
        goto fail;
    if (idims[0] < 1 || idims[0] > INT_MAX || idims[1] < 1 || idims[1] > 65535 || idims[2] < 1 ||
        idims[2] > 65535) {
        ns_err("%s: bad dimensions %u x %u x %u", images, idims[0], idims[1], idims[2]);
        goto fail;
    }
    size_t img_bytes = (size_t)idims[1] * idims[2];
    if ((size_t)idims[0] > SIZE_MAX / img_bytes) {
        ns_err("%s: %u images of %zu bytes do not fit in memory", images, idims[0], img_bytes);
        goto fail;
    }
    x = read_payload(f, images, (size_t)idims[0] * img_bytes, "image");
    gzclose(f);
    f = NULL;
    if (!x)
        goto fail;

    f = open_any(labels, fashion_hint, lpath);
    if (!f)
        goto fail;
    labels = lpath;
    if (read_idx_header(f, labels, IDX_LABELS_MAGIC, "label", ldims, 1) < 0)
        goto fail;
    if (ldims[0] != idims[0]) {
        ns_err("%s: %u labels, but %s holds %u images", labels, ldims[0], images, idims[0]);
        goto fail;
    }
    y = read_payload(f, labels, ldims[0], "label");
    gzclose(f);
    f = NULL;
    if (!y)
        goto fail;
    for (uint32_t i = 0; i < ldims[0]; i++)
        if (y[i] >= classes) {
            ns_err("%s: label %d of image %u is not < %d classes", labels, y[i], i, classes);
            goto fail;
        }

    ns_data_adopt(d, "fashion-mnist", (int)idims[0], (int)idims[1], (int)idims[2], 1, classes, x, y);
    return 0;
fail:
    if (f)
        gzclose(f);
    free(x);
    free(y);
    return -1;
}

int ns_data_load_cifar_files(struct ns_dataset *d, const char *const *paths, int n_paths)
{
    memset(d, 0, sizeof *d);
    uint8_t *x = NULL, *y = NULL, rec[CIFAR_RECORD];
    size_t n = 0, cap = 0;
    for (int p = 0; p < n_paths; p++) {
        char path[PATH_MAX];
        gzFile f = open_any(paths[p], cifar_hint, path);
        if (!f)
            goto fail;
        size_t in_file = 0;
        for (;;) {
            size_t got;
            if (read_bytes(f, path, rec, CIFAR_RECORD, &got) < 0) {
                gzclose(f);
                goto fail;
            }
            if (got == 0)
                break;
            if (got < CIFAR_RECORD) {
                ns_err("%s: truncated: record %zu has %zu of %d bytes", path, in_file, got,
                       CIFAR_RECORD);
                gzclose(f);
                goto fail;
            }
            if (rec[0] >= CIFAR_CLASSES) {
                ns_err("%s: label %d of record %zu is not < %d classes", path, rec[0], in_file,
                       CIFAR_CLASSES);
                gzclose(f);
                goto fail;
            }
            if (n == cap) {
                size_t ncap = cap ? 2 * cap : 10000;
                if (ncap > INT_MAX) {
                    ns_err("%s: more than %d images", path, INT_MAX);
                    gzclose(f);
                    goto fail;
                }
                uint8_t *nx = realloc(x, ncap * 3 * CIFAR_PLANE);
                if (nx)
                    x = nx;
                uint8_t *ny = nx ? realloc(y, ncap) : NULL;
                if (!ny) {
                    ns_err("%s: out of memory for %zu images", path, ncap);
                    gzclose(f);
                    goto fail;
                }
                y = ny;
                cap = ncap;
            }
            /* CHW planes (R, G, B) to interleaved HWC. */
            uint8_t *dst = x + n * 3 * CIFAR_PLANE;
            for (int i = 0; i < CIFAR_PLANE; i++)
                for (int c = 0; c < 3; c++)
                    dst[3 * i + c] = rec[1 + c * CIFAR_PLANE + i];
            y[n++] = rec[0];
            in_file++;
        }
        gzclose(f);
        if (in_file == 0) {
            ns_err("%s: empty (no %d-byte CIFAR-10 records)", path, CIFAR_RECORD);
            goto fail;
        }
    }
    if (n == 0) {
        ns_err("CIFAR-10: no files given");
        goto fail;
    }
    ns_data_adopt(d, "cifar10", (int)n, CIFAR_SIDE, CIFAR_SIDE, 3, CIFAR_CLASSES, x, y);
    return 0;
fail:
    free(x);
    free(y);
    return -1;
}

static int join(char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf(out, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size)
        return ns_err("%s: path too long", dir);
    return 0;
}

static int load_fashion(const char *dir, struct ns_dataset *train, struct ns_dataset *test)
{
    char xi[PATH_MAX], yi[PATH_MAX], xt[PATH_MAX], yt[PATH_MAX];
    if (join(xi, sizeof xi, dir, "train-images-idx3-ubyte.gz") < 0 ||
        join(yi, sizeof yi, dir, "train-labels-idx1-ubyte.gz") < 0 ||
        join(xt, sizeof xt, dir, "t10k-images-idx3-ubyte.gz") < 0 ||
        join(yt, sizeof yt, dir, "t10k-labels-idx1-ubyte.gz") < 0)
        return -1;
    if (ns_data_load_idx(train, xi, yi, FASHION_CLASSES) < 0)
        return -1;
    if (ns_data_load_idx(test, xt, yt, FASHION_CLASSES) < 0) {
        ns_data_free(train);
        return -1;
    }
    if (test->h != train->h || test->w != train->w) {
        ns_err("%s: images are %dx%d, but %s has %dx%d", xt, test->h, test->w, xi, train->h,
               train->w);
        ns_data_free(train);
        ns_data_free(test);
        return -1;
    }
    return 0;
}

static int load_cifar(const char *dir, struct ns_dataset *train, struct ns_dataset *test)
{
    char paths[6][PATH_MAX];
    const char *ptr[6];
    for (int i = 0; i < 6; i++) {
        char name[32];
        if (i < 5)
            snprintf(name, sizeof name, "data_batch_%d.bin", i + 1);
        else
            snprintf(name, sizeof name, "test_batch.bin");
        if (join(paths[i], sizeof paths[i], dir, name) < 0)
            return -1;
        ptr[i] = paths[i];
    }
    if (ns_data_load_cifar_files(train, ptr, 5) < 0)
        return -1;
    if (ns_data_load_cifar_files(test, ptr + 5, 1) < 0) {
        ns_data_free(train);
        return -1;
    }
    return 0;
}

int ns_data_load(enum ns_data_kind kind, const char *dir, struct ns_dataset *train,
                 struct ns_dataset *test)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (!dir)
        dir = ns_data_default_dir(kind);
    switch (kind) {
    case NS_DATA_FASHION_MNIST:
        return load_fashion(dir, train, test);
    case NS_DATA_CIFAR10:
        return load_cifar(dir, train, test);
    case NS_DATA_SYNTHETIC:
        return ns_data_synthetic_pair(train, test, NS_DATA_SYNTH_TRAIN, NS_DATA_SYNTH_TEST, 1,
                                      NS_DATA_SYNTH_SIZE, NS_DATA_SYNTH_CLASSES,
                                      NS_DATA_SYNTH_SEED);
    case NS_DATA_FOLDER:
        return ns_err("folder: an image folder needs an image size (ns_data_load_folder)");
    }
    return ns_err("unknown dataset kind %d", (int)kind);
}
