/* JSON reading helpers (util/json.h). */
#include "util/json.h"

#include "util/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ns_json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static int absent(const char *key, const char *where, int required)
{
    if (required)
        return ns_err("%s.%s: missing field", where, key);
    return 1;
}

int ns_json_get_num(const json_t *obj, const char *key, const char *where, int required, double *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return absent(key, where, required);
    if (!json_is_number(v))
        return ns_err("%s.%s: expected a number, got %s", where, key, ns_json_type_name(v));
    double x = json_number_value(v);
    if (!isfinite(x))
        return ns_err("%s.%s: not a finite number", where, key);
    *out = x;
    return 0;
}

int ns_json_get_int(const json_t *obj, const char *key, const char *where, int required, long lo,
                  long hi, int *out)
{
    double x = 0;
    int rc = ns_json_get_num(obj, key, where, required, &x);
    if (rc)
        return rc;
    if (x != floor(x))
        return ns_err("%s.%s: %g is not an integer", where, key, x);
    if (x < (double)lo || x > (double)hi)
        return ns_err("%s.%s: %g is not in %ld..%ld", where, key, x, lo, hi);
    *out = (int)x;
    return 0;
}

int ns_json_get_str(const json_t *obj, const char *key, const char *where, int required,
                  const char **out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return absent(key, where, required);
    if (!json_is_string(v))
        return ns_err("%s.%s: expected a string, got %s", where, key, ns_json_type_name(v));
    *out = json_string_value(v);
    return 0;
}

int ns_json_check_keys(const json_t *obj, const char *where, const char *const *allowed)
{
    if (!json_is_object(obj))
        return ns_err("%s: expected an object, got %s", where, ns_json_type_name(obj));
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok)
            return ns_err("%s: unknown field '%s'", where, key);
    }
    return 0;
}

void ns_json_fmt_real(double v, char buf[32])
{
    if (v == 0)
        v = 0; /* -0.0 writes as 0.0 */
    snprintf(buf, 32, "%.10g", v);
    if (!strpbrk(buf, ".eEni"))
        strcat(buf, ".0");
}

double ns_json_canon_real(double v)
{
    char buf[32];
    ns_json_fmt_real(v, buf);
    return strtod(buf, NULL);
}

const char *ns_json_error_text(const json_error_t *e)
{
    static _Thread_local char buf[sizeof e->text + 64];
    if (!strstr(e->text, "JSON_ALLOW_NUL"))
        return e->text;
    snprintf(buf, sizeof buf, "a NUL character (\\u0000) is not allowed in a string");
    return buf;
}

json_t *ns_json_load_file(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        if (e.line < 1)
            ns_err("%s: %s", path, ns_json_error_text(&e));
        else
            ns_err("%s: line %d, column %d: %s", path, e.line, e.column, ns_json_error_text(&e));
    }
    return j;
}
