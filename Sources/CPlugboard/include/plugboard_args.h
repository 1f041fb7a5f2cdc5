/*
 * plugboard_args.h — read a call's JSON arguments from C, with typed accessors.
 *
 * Header-only (every function is static inline), C99, no allocation, no dependency beyond libc.
 * It is a reader, not a document model: a `pb_json` is a cursor (pointer and length) into the
 * caller's bytes, and each accessor walks from there. Arguments are small, so walking is cheap.
 *
 * Safety: lengths are explicit. The input need not be NUL-terminated, and no function reads a
 * byte outside [start, start + len) of the cursor it is given, whatever the bytes hold (truncated,
 * malformed or hostile JSON). Nesting deeper than PB_JSON_MAX_DEPTH is refused as malformed
 * rather than recursed into (nothing here recurses).
 *
 *     pb_json args;
 *     if (pb_json_parse(bytes, len, &args) != PB_JSON_OK) ...      // checks the whole document
 *
 *     char text[256];
 *     size_t text_len;
 *     switch (pb_args_string(args, "text", text, sizeof text, &text_len)) {
 *     case PB_JSON_OK: ...                      // text is unescaped UTF-8, NUL-terminated
 *     case PB_JSON_TOO_SMALL: ...               // text_len says how many bytes it needs (+1 for NUL)
 *     case PB_JSON_MISSING: ...                 // no such argument
 *     default: ...                              // PB_JSON_WRONG_TYPE: not a string
 *     }
 *     int64_t limit;  pb_args_int64(args, "limit", &limit);
 *     double score;   pb_args_double(args, "filter.min_score", &score);
 *     int exact;      pb_args_bool(args, "filter.exact", &exact);
 *     pb_json tag;    pb_args_value(args, "filter.tags[0]", &tag);   // a sub-cursor
 *
 *     pb_json_iter it;  pb_json key, value;                          // every member or element
 *     pb_json_iter_init(tags, &it);
 *     while (pb_json_iter_next(&it, &key, &value) == PB_JSON_OK) ...
 *
 * Paths name members separated by '.' and array elements by a decimal index in brackets:
 * "text", "filter.tags[2]", "rows[0][1]", "[3].id"; "" is the value itself. A member whose name
 * contains '.' or '[' is reached with pb_json_member. Member names are compared after unescaping,
 * so "caf\u00e9" matches "café". When an object repeats a name, the last one wins.
 *
 * Strings: escapes \" \\ \/ \b \f \n \r \t and \uXXXX (surrogate pairs joined) become UTF-8; a lone
 * surrogate becomes U+FFFD. Other bytes are copied unchanged (the host passes UTF-8). A string
 * holding \u0000 yields a NUL byte inside the result: use the returned length, not strlen.
 */
#ifndef PLUGBOARD_ARGS_H
#define PLUGBOARD_ARGS_H

#include <errno.h>
#include <float.h>
#include <locale.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Containers nested deeper than this are refused as PB_JSON_MALFORMED. Costs one byte of stack
 * per level while a value is skipped. */
#ifndef PB_JSON_MAX_DEPTH
#define PB_JSON_MAX_DEPTH 256
#endif

/* Numbers longer than this many characters are not converted (PB_JSON_OUT_OF_RANGE): they are
 * copied to the stack to be NUL-terminated for strtod. */
#ifndef PB_JSON_NUMBER_MAX
#define PB_JSON_NUMBER_MAX 350
#endif

typedef enum pb_json_status {
    PB_JSON_OK = 0,
    PB_JSON_MISSING = 1,      /* no such member or element (or: the iteration is over) */
    PB_JSON_WRONG_TYPE = 2,   /* the value exists but is of another type; for int64, not an integer */
    PB_JSON_MALFORMED = 3,    /* not valid JSON, truncated, nested too deep, or an empty cursor */
    PB_JSON_TOO_SMALL = 4,    /* the buffer cannot hold the string and its NUL; *len says the bytes needed */
    PB_JSON_OUT_OF_RANGE = 5, /* a number that does not fit the C type asked for */
    PB_JSON_BAD_PATH = 6      /* the path itself is malformed, e.g. "a..b", "a.", "a[x]", "a[1" */
} pb_json_status;

typedef enum pb_json_kind {
    PB_JSON_INVALID = 0, /* an empty cursor, or bytes that start no JSON value */
    PB_JSON_NULL,
    PB_JSON_BOOL,
    PB_JSON_NUMBER,
    PB_JSON_STRING,
    PB_JSON_ARRAY,
    PB_JSON_OBJECT
} pb_json_kind;

/* One JSON value: its first byte and its length, without surrounding whitespace. Borrowed from
 * the caller's buffer, valid as long as it is (for `invoke`'s args: until `invoke` returns). */
typedef struct pb_json {
    const uint8_t *start;
    size_t len;
} pb_json;

/* A walk over an array's elements or an object's members. */
typedef struct pb_json_iter {
    const uint8_t *next; /* where the walk resumes */
    const uint8_t *end;  /* one past the container's closing bracket */
    uint8_t object;      /* 1 for an object, 0 for an array */
    uint8_t state;       /* 0 before the first element, 1 after an element, 2 finished */
} pb_json_iter;

static inline const char *pb_json_status_text(pb_json_status status) {
    switch (status) {
    case PB_JSON_OK: return "ok";
    case PB_JSON_MISSING: return "missing";
    case PB_JSON_WRONG_TYPE: return "of the wrong type";
    case PB_JSON_MALFORMED: return "not valid JSON";
    case PB_JSON_TOO_SMALL: return "too long for the buffer";
    case PB_JSON_OUT_OF_RANGE: return "out of range";
    case PB_JSON_BAD_PATH: return "a malformed path";
    }
    return "unknown status";
}

/* ---- internals: every one takes the end of the bytes it may read and returns NULL on error --- */

static inline const uint8_t *pb_json__ws(const uint8_t *p, const uint8_t *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static inline int pb_json__hex4(const uint8_t *p, const uint8_t *end, uint32_t *out) {
    uint32_t value = 0;
    int i;
    if (end - p < 4) return 0;
    for (i = 0; i < 4; i++) {
        uint8_t c = p[i];
        uint32_t digit;
        if (c >= '0' && c <= '9') digit = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') digit = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') digit = (uint32_t)(c - 'A' + 10);
        else return 0;
        value = value * 16 + digit;
    }
    *out = value;
    return 1;
}

/* p at the opening quote; returns the byte after the closing quote. */
static inline const uint8_t *pb_json__skip_string(const uint8_t *p, const uint8_t *end) {
    uint32_t unused;
    if (p >= end || *p != '"') return NULL;
    p++;
    while (p < end) {
        uint8_t c = *p;
        if (c == '"') return p + 1;
        if (c < 0x20) return NULL;
        if (c != '\\') {
            p++;
            continue;
        }
        if (end - p < 2) return NULL;
        switch (p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p += 2;
            break;
        case 'u':
            if (!pb_json__hex4(p + 2, end, &unused)) return NULL;
            p += 6;
            break;
        default:
            return NULL;
        }
    }
    return NULL;
}

static inline const uint8_t *pb_json__skip_digits(const uint8_t *p, const uint8_t *end) {
    const uint8_t *first = p;
    while (p < end && *p >= '0' && *p <= '9') p++;
    return p == first ? NULL : p;
}

/* The JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static inline const uint8_t *pb_json__skip_number(const uint8_t *p, const uint8_t *end) {
    if (p < end && *p == '-') p++;
    if (p >= end) return NULL;
    if (*p == '0') p++;
    else if (!(p = pb_json__skip_digits(p, end))) return NULL;
    if (p < end && *p == '.' && !(p = pb_json__skip_digits(p + 1, end))) return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (!(p = pb_json__skip_digits(p, end))) return NULL;
    }
    return p;
}

static inline const uint8_t *pb_json__skip_word(const uint8_t *p, const uint8_t *end, const char *word, size_t n) {
    if ((size_t)(end - p) < n || memcmp(p, word, n) != 0) return NULL;
    return p + n;
}

/* An object member's name and colon; returns where its value may start. */
static inline const uint8_t *pb_json__skip_name(const uint8_t *p, const uint8_t *end) {
    p = pb_json__ws(p, end);
    if (!(p = pb_json__skip_string(p, end))) return NULL;
    p = pb_json__ws(p, end);
    if (p >= end || *p != ':') return NULL;
    return p + 1;
}

/* Skips (and checks) one value starting at p (after optional whitespace). A loop with its own
 * stack of open brackets, so hostile nesting costs no call stack. */
static inline const uint8_t *pb_json__skip_value(const uint8_t *p, const uint8_t *end) {
    uint8_t open[PB_JSON_MAX_DEPTH];
    size_t depth = 0;
    for (;;) {
        p = pb_json__ws(p, end);
        if (p >= end) return NULL;
        switch (*p) {
        case '{':
        case '[': {
            uint8_t bracket = *p;
            p = pb_json__ws(p + 1, end);
            if (p < end && *p == (bracket == '{' ? '}' : ']')) {
                p++;
                break;
            }
            if (depth == PB_JSON_MAX_DEPTH) return NULL;
            open[depth++] = bracket;
            if (bracket == '{' && !(p = pb_json__skip_name(p, end))) return NULL;
            continue; /* the first member's value or the first element */
        }
        case '"': p = pb_json__skip_string(p, end); break;
        case 't': p = pb_json__skip_word(p, end, "true", 4); break;
        case 'f': p = pb_json__skip_word(p, end, "false", 5); break;
        case 'n': p = pb_json__skip_word(p, end, "null", 4); break;
        default: p = pb_json__skip_number(p, end); break;
        }
        if (!p) return NULL;
        /* After a value: close finished containers, or go on to the next element. */
        for (;;) {
            uint8_t bracket;
            if (depth == 0) return p;
            p = pb_json__ws(p, end);
            if (p >= end) return NULL;
            bracket = open[depth - 1];
            if (*p == ',') {
                p++;
                if (bracket == '{' && !(p = pb_json__skip_name(p, end))) return NULL;
                break;
            }
            if (*p != (bracket == '{' ? '}' : ']')) return NULL;
            p++;
            depth--;
        }
    }
}

static inline size_t pb_json__utf8(uint32_t cp, uint8_t out[4]) {
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the next character of a string body at *p into out (1 to 4 UTF-8 bytes, *n of them).
 * Returns 1 for a character, 0 at the closing quote (consumed), -1 when malformed. */
static inline int pb_json__unit(const uint8_t **p, const uint8_t *end, uint8_t out[4], size_t *n) {
    const uint8_t *q = *p;
    uint32_t cp, low;
    if (q >= end) return -1;
    if (*q == '"') {
        *p = q + 1;
        return 0;
    }
    if (*q < 0x20) return -1;
    if (*q != '\\') {
        out[0] = *q;
        *n = 1;
        *p = q + 1;
        return 1;
    }
    if (end - q < 2) return -1;
    *n = 1;
    switch (q[1]) {
    case '"': out[0] = '"'; break;
    case '\\': out[0] = '\\'; break;
    case '/': out[0] = '/'; break;
    case 'b': out[0] = '\b'; break;
    case 'f': out[0] = '\f'; break;
    case 'n': out[0] = '\n'; break;
    case 'r': out[0] = '\r'; break;
    case 't': out[0] = '\t'; break;
    case 'u':
        if (!pb_json__hex4(q + 2, end, &cp)) return -1;
        q += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            /* A high surrogate counts only with the low one right after it. */
            if (end - q >= 6 && q[0] == '\\' && q[1] == 'u' && pb_json__hex4(q + 2, end, &low) && low >= 0xDC00 && low <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                q += 6;
            } else {
                cp = 0xFFFD;
            }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD;
        }
        *n = pb_json__utf8(cp, out);
        *p = q;
        return 1;
    default:
        return -1;
    }
    *p = q + 2;
    return 1;
}

static inline pb_json_status pb_json__expect(pb_json value, pb_json_kind kind);

/* ---- the API ---------------------------------------------------------------------------------- */

/* The kind of value the cursor is on, judged by its first byte (the accessors check the rest). */
static inline pb_json_kind pb_json_kind_of(pb_json value) {
    if (!value.start || value.len == 0) return PB_JSON_INVALID;
    switch (value.start[0]) {
    case '{': return PB_JSON_OBJECT;
    case '[': return PB_JSON_ARRAY;
    case '"': return PB_JSON_STRING;
    case 't': case 'f': return PB_JSON_BOOL;
    case 'n': return PB_JSON_NULL;
    case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
        return PB_JSON_NUMBER;
    default: return PB_JSON_INVALID;
    }
}

static inline pb_json_status pb_json__expect(pb_json value, pb_json_kind kind) {
    pb_json_kind actual = pb_json_kind_of(value);
    if (actual == PB_JSON_INVALID) return PB_JSON_MALFORMED;
    return actual == kind ? PB_JSON_OK : PB_JSON_WRONG_TYPE;
}

/* Checks that json[0, len) is exactly one JSON value (with optional surrounding whitespace) and
 * points `out` at it. Everything else in this header may then be used on `out`. */
static inline pb_json_status pb_json_parse(const uint8_t *json, size_t len, pb_json *out) {
    const uint8_t *end, *first, *after;
    if (!out) return PB_JSON_MALFORMED;
    out->start = NULL;
    out->len = 0;
    if (!json) return PB_JSON_MALFORMED;
    end = json + len;
    first = pb_json__ws(json, end);
    after = pb_json__skip_value(first, end);
    if (!after || pb_json__ws(after, end) != end) return PB_JSON_MALFORMED;
    out->start = first;
    out->len = (size_t)(after - first);
    return PB_JSON_OK;
}

/* Starts a walk over an array or an object. */
static inline pb_json_status pb_json_iter_init(pb_json container, pb_json_iter *it) {
    pb_json_kind kind = pb_json_kind_of(container);
    if (!it) return PB_JSON_MALFORMED;
    it->next = it->end = NULL;
    it->state = 2;
    it->object = 0;
    if (kind == PB_JSON_INVALID) return PB_JSON_MALFORMED;
    if (kind != PB_JSON_ARRAY && kind != PB_JSON_OBJECT) return PB_JSON_WRONG_TYPE;
    it->next = container.start + 1;
    it->end = container.start + container.len;
    it->object = kind == PB_JSON_OBJECT;
    it->state = 0;
    return PB_JSON_OK;
}

/* The next element (or member: `key` is then its name, a string cursor for pb_json_string; for
 * an array `key` is empty). Either pointer may be NULL. PB_JSON_MISSING when the walk is over. */
static inline pb_json_status pb_json_iter_next(pb_json_iter *it, pb_json *key, pb_json *value) {
    const uint8_t *p, *end, *name = NULL, *name_end = NULL, *after;
    uint8_t close;
    if (key) key->start = NULL, key->len = 0;
    if (value) value->start = NULL, value->len = 0;
    if (!it || it->state == 2 || !it->next) return PB_JSON_MISSING;
    end = it->end;
    close = it->object ? '}' : ']';
    p = pb_json__ws(it->next, end);
    if (p >= end) goto malformed;
    if (*p == close) {
        it->state = 2;
        return PB_JSON_MISSING;
    }
    if (it->state == 1) {
        if (*p != ',') goto malformed;
        p = pb_json__ws(p + 1, end);
    }
    if (it->object) {
        name = p;
        if (!(name_end = pb_json__skip_string(p, end))) goto malformed;
        p = pb_json__ws(name_end, end);
        if (p >= end || *p != ':') goto malformed;
        p++;
    }
    p = pb_json__ws(p, end);
    if (!(after = pb_json__skip_value(p, end))) goto malformed;
    if (key && name) key->start = name, key->len = (size_t)(name_end - name);
    if (value) value->start = p, value->len = (size_t)(after - p);
    it->next = after;
    it->state = 1;
    return PB_JSON_OK;
malformed:
    it->state = 2;
    return PB_JSON_MALFORMED;
}

/* 1 when `value` is a string equal, once unescaped, to the `len` bytes at `text`; else 0. */
static inline int pb_json_string_equals(pb_json value, const char *text, size_t len) {
    const uint8_t *p, *end;
    uint8_t unit[4];
    size_t n = 0, at = 0;
    int more;
    if (pb_json_kind_of(value) != PB_JSON_STRING || (!text && len)) return 0;
    p = value.start + 1;
    end = value.start + value.len;
    while ((more = pb_json__unit(&p, end, unit, &n)) == 1) {
        if (len - at < n || memcmp(text + at, unit, n) != 0) return 0;
        at += n;
    }
    return more == 0 && at == len;
}

/* The unescaped UTF-8 of a string value, NUL-terminated, into buf (cap bytes). `*len` (may be
 * NULL) receives the string's length without the NUL, also when the result is PB_JSON_TOO_SMALL,
 * so a first call with cap 0 sizes the buffer. On any failure buf holds "" (when cap > 0). */
static inline pb_json_status pb_json_string(pb_json value, char *buf, size_t cap, size_t *len) {
    const uint8_t *p, *end;
    uint8_t unit[4];
    size_t n = 0, needed = 0, i;
    int more;
    pb_json_status status = pb_json__expect(value, PB_JSON_STRING);
    if (len) *len = 0;
    if (!buf) cap = 0;
    if (cap > 0) buf[0] = '\0';
    if (status != PB_JSON_OK) return status;
    p = value.start + 1;
    end = value.start + value.len;
    while ((more = pb_json__unit(&p, end, unit, &n)) == 1) {
        for (i = 0; i < n; i++, needed++) {
            if (needed + 1 < cap) buf[needed] = (char)unit[i];
        }
    }
    if (more < 0) {
        if (cap > 0) buf[0] = '\0';
        return PB_JSON_MALFORMED;
    }
    if (len) *len = needed;
    if (needed + 1 > cap) {
        if (cap > 0) buf[0] = '\0';
        return PB_JSON_TOO_SMALL;
    }
    buf[needed] = '\0';
    return PB_JSON_OK;
}

/* A number as a double. PB_JSON_OUT_OF_RANGE when it overflows a double (or is longer than
 * PB_JSON_NUMBER_MAX characters); a value too small for a double becomes 0 or a subnormal. */
static inline pb_json_status pb_json_double(pb_json value, double *out) {
    char text[PB_JSON_NUMBER_MAX + 1];
    char *stop = NULL;
    const struct lconv *locale;
    double result;
    int saved_errno, range_error;
    size_t i;
    pb_json_status status = pb_json__expect(value, PB_JSON_NUMBER);
    if (status != PB_JSON_OK) return status;
    if (pb_json__skip_number(value.start, value.start + value.len) != value.start + value.len) return PB_JSON_MALFORMED;
    if (value.len > PB_JSON_NUMBER_MAX) return PB_JSON_OUT_OF_RANGE;
    memcpy(text, value.start, value.len);
    text[value.len] = '\0';
    /* strtod reads the decimal point of the process's locale, which a host's setlocale may have
     * made ',': speak its language. */
    locale = localeconv();
    if (locale && locale->decimal_point && locale->decimal_point[0] && locale->decimal_point[0] != '.' && !locale->decimal_point[1]) {
        for (i = 0; i < value.len; i++) {
            if (text[i] == '.') text[i] = locale->decimal_point[0];
        }
    }
    saved_errno = errno;
    errno = 0;
    result = strtod(text, &stop);
    range_error = errno == ERANGE;
    errno = saved_errno;
    if (stop != text + value.len) return PB_JSON_MALFORMED;
    if (range_error && (result > DBL_MAX || result < -DBL_MAX)) return PB_JSON_OUT_OF_RANGE;
    if (out) *out = result;
    return PB_JSON_OK;
}

/* A number as an int64_t. Integers are converted exactly over the whole int64_t range; a number
 * with a fraction or exponent counts if it is integral (3.0, 1e3, as JSON Schema's "integer"
 * does) and within ±2^53, where a double is exact. 1.5 is PB_JSON_WRONG_TYPE; 2^63 and 1e300
 * are PB_JSON_OUT_OF_RANGE. */
static inline pb_json_status pb_json_int64(pb_json value, int64_t *out) {
    const uint8_t *p, *end;
    uint64_t magnitude = 0;
    int negative, overflow = 0;
    double real = 0;
    pb_json_status status = pb_json__expect(value, PB_JSON_NUMBER);
    if (status != PB_JSON_OK) return status;
    p = value.start;
    end = value.start + value.len;
    if (pb_json__skip_number(p, end) != end) return PB_JSON_MALFORMED;
    negative = *p == '-';
    if (negative) p++;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (magnitude > (UINT64_MAX - digit) / 10) overflow = 1;
        else magnitude = magnitude * 10 + digit;
    }
    if (p == end) {
        if (overflow) return PB_JSON_OUT_OF_RANGE;
        if (negative) {
            if (magnitude > (uint64_t)INT64_MAX + 1) return PB_JSON_OUT_OF_RANGE;
            if (out) *out = magnitude == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)magnitude;
        } else {
            if (magnitude > (uint64_t)INT64_MAX) return PB_JSON_OUT_OF_RANGE;
            if (out) *out = (int64_t)magnitude;
        }
        return PB_JSON_OK;
    }
    status = pb_json_double(value, &real);
    if (status != PB_JSON_OK) return status;
    if (real > 9007199254740992.0 || real < -9007199254740992.0) {
        /* Integral or not, past 2^53 the double no longer says which integer the text meant. */
        return PB_JSON_OUT_OF_RANGE;
    }
    if ((double)(int64_t)real != real) return PB_JSON_WRONG_TYPE;
    if (out) *out = (int64_t)real;
    return PB_JSON_OK;
}

/* true or false, as 1 or 0. */
static inline pb_json_status pb_json_bool(pb_json value, int *out) {
    pb_json_status status = pb_json__expect(value, PB_JSON_BOOL);
    if (status != PB_JSON_OK) return status;
    if (value.len == 4 && memcmp(value.start, "true", 4) == 0) {
        if (out) *out = 1;
    } else if (value.len == 5 && memcmp(value.start, "false", 5) == 0) {
        if (out) *out = 0;
    } else {
        return PB_JSON_MALFORMED;
    }
    return PB_JSON_OK;
}

/* 1 when the value is null; 0 otherwise (including an empty cursor). */
static inline int pb_json_is_null(pb_json value) {
    return value.start && value.len == 4 && memcmp(value.start, "null", 4) == 0;
}

/* The member named by the `len` bytes at `name` (compared with the unescaped names). */
static inline pb_json_status pb_json_member(pb_json object, const char *name, size_t len, pb_json *out) {
    pb_json_iter it;
    pb_json key, value, found;
    pb_json_status status;
    int seen = 0;
    if (out) out->start = NULL, out->len = 0;
    if ((status = pb_json__expect(object, PB_JSON_OBJECT)) != PB_JSON_OK) return status;
    pb_json_iter_init(object, &it);
    found.start = NULL;
    found.len = 0;
    while ((status = pb_json_iter_next(&it, &key, &value)) == PB_JSON_OK) {
        if (pb_json_string_equals(key, name, len)) {
            found = value;
            seen = 1;
        }
    }
    if (status != PB_JSON_MISSING) return status;
    if (!seen) return PB_JSON_MISSING;
    if (out) *out = found;
    return PB_JSON_OK;
}

/* The element at `index` (from 0) of an array. */
static inline pb_json_status pb_json_index(pb_json array, size_t index, pb_json *out) {
    pb_json_iter it;
    pb_json value;
    pb_json_status status;
    size_t at = 0;
    if (out) out->start = NULL, out->len = 0;
    if ((status = pb_json__expect(array, PB_JSON_ARRAY)) != PB_JSON_OK) return status;
    pb_json_iter_init(array, &it);
    while ((status = pb_json_iter_next(&it, NULL, &value)) == PB_JSON_OK) {
        if (at++ == index) {
            if (out) *out = value;
            return PB_JSON_OK;
        }
    }
    return status;
}

/* 1 when `path` follows the grammar at the top of this file. Checked before any step is taken,
 * so a malformed path is reported as such whatever the document holds. */
static inline int pb_json__path_ok(const char *path) {
    if (!path) return 0;
    while (*path) {
        if (*path == '[') {
            path++;
            if (*path < '0' || *path > '9') return 0;
            while (*path >= '0' && *path <= '9') path++;
            if (*path != ']') return 0;
            path++;
        } else {
            const char *name = path;
            while (*path && *path != '.' && *path != '[') path++;
            if (path == name) return 0;
        }
        if (*path == '.') {
            path++;
            if (*path == '\0' || *path == '.' || *path == '[') return 0;
        } else if (*path && *path != '[') {
            return 0;
        }
    }
    return 1;
}

/* The value at `path` (a NUL-terminated path, see the top of this file) below `root`.
 * PB_JSON_WRONG_TYPE when a step meets a value that is not an object (for a name) or not an
 * array (for an index). */
static inline pb_json_status pb_json_path(pb_json root, const char *path, pb_json *out) {
    pb_json at = root;
    pb_json_status status;
    if (out) out->start = NULL, out->len = 0;
    if (!pb_json__path_ok(path)) return PB_JSON_BAD_PATH;
    while (*path) {
        if (*path == '[') {
            size_t index = 0;
            path++;
            if (*path < '0' || *path > '9') return PB_JSON_BAD_PATH;
            for (; *path >= '0' && *path <= '9'; path++) {
                size_t digit = (size_t)(*path - '0');
                if (index > (SIZE_MAX - digit) / 10) return PB_JSON_BAD_PATH;
                index = index * 10 + digit;
            }
            if (*path != ']') return PB_JSON_BAD_PATH;
            path++;
            if ((status = pb_json_index(at, index, &at)) != PB_JSON_OK) return status;
        } else {
            const char *name = path;
            while (*path && *path != '.' && *path != '[') path++;
            if (path == name) return PB_JSON_BAD_PATH;
            if ((status = pb_json_member(at, name, (size_t)(path - name), &at)) != PB_JSON_OK) return status;
        }
        if (*path == '.') {
            path++;
            if (*path == '\0' || *path == '.' || *path == '[') return PB_JSON_BAD_PATH;
        } else if (*path && *path != '[') {
            return PB_JSON_BAD_PATH;
        }
    }
    if (out) *out = at;
    return PB_JSON_OK;
}

/* ---- typed accessors by path: read one argument in one call ----------------------------------- */

static inline pb_json_status pb_args_value(pb_json args, const char *path, pb_json *out) {
    return pb_json_path(args, path, out);
}

static inline pb_json_status pb_args_string(pb_json args, const char *path, char *buf, size_t cap, size_t *len) {
    pb_json value;
    pb_json_status status = pb_json_path(args, path, &value);
    if (status != PB_JSON_OK) {
        if (len) *len = 0;
        if (buf && cap > 0) buf[0] = '\0';
        return status;
    }
    return pb_json_string(value, buf, cap, len);
}

static inline pb_json_status pb_args_int64(pb_json args, const char *path, int64_t *out) {
    pb_json value;
    pb_json_status status = pb_json_path(args, path, &value);
    return status == PB_JSON_OK ? pb_json_int64(value, out) : status;
}

static inline pb_json_status pb_args_double(pb_json args, const char *path, double *out) {
    pb_json value;
    pb_json_status status = pb_json_path(args, path, &value);
    return status == PB_JSON_OK ? pb_json_double(value, out) : status;
}

static inline pb_json_status pb_args_bool(pb_json args, const char *path, int *out) {
    pb_json value;
    pb_json_status status = pb_json_path(args, path, &value);
    return status == PB_JSON_OK ? pb_json_bool(value, out) : status;
}

/* 1 when the argument is present and null; 0 when it is absent or anything else. */
static inline int pb_args_is_null(pb_json args, const char *path) {
    pb_json value;
    return pb_json_path(args, path, &value) == PB_JSON_OK && pb_json_is_null(value);
}

/* The argument's kind; PB_JSON_INVALID when it is absent. */
static inline pb_json_kind pb_args_kind(pb_json args, const char *path) {
    pb_json value;
    return pb_json_path(args, path, &value) == PB_JSON_OK ? pb_json_kind_of(value) : PB_JSON_INVALID;
}

#ifdef __cplusplus
}
#endif

#endif /* PLUGBOARD_ARGS_H */
