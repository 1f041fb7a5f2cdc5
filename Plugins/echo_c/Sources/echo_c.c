/*
 * echo_c — a Plugboard plugin in plain C. It proves the ABI needs no Swift: it links nothing but
 * libc and pthreads, exports one function and completes calls both inline and from its own thread.
 *
 * The host validates arguments against the manifest's input_schema and passes them as compact
 * JSON, so the small field readers below only meet well-formed input.
 */
#include <plugboard.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct instance {
    const pb_host_api *host;
} instance;

static const char *const handlers[] = {"echo.say", "echo.add", "echo.delay"};

/* The raw (still JSON-escaped) contents of the string field `key`, or NULL. */
static const char *string_field(const char *json, size_t len, const char *key, size_t *out_len) {
    char needle[64];
    int n = snprintf(needle, sizeof needle, "\"%s\":", key);
    if (n <= 0 || (size_t)n >= sizeof needle) return NULL;
    const char *end = json + len;
    for (const char *p = json; p + n < end; p++) {
        if (memcmp(p, needle, (size_t)n) != 0) continue;
        const char *q = p + n;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) q++;
        if (q >= end || *q != '"') return NULL;
        const char *start = ++q;
        while (q < end && *q != '"') q += (*q == '\\') ? 2 : 1;
        if (q > end) return NULL;
        *out_len = (size_t)(q - start);
        return start;
    }
    return NULL;
}

static long long integer_field(const char *json, size_t len, const char *key, long long fallback) {
    char needle[64];
    int n = snprintf(needle, sizeof needle, "\"%s\":", key);
    if (n <= 0 || (size_t)n >= sizeof needle) return fallback;
    const char *end = json + len;
    for (const char *p = json; p + n < end; p++) {
        if (memcmp(p, needle, (size_t)n) != 0) continue;
        char number[32] = {0};
        size_t i = 0;
        for (const char *q = p + n; q < end && i + 1 < sizeof number && (*q == '-' || (*q >= '0' && *q <= '9')); q++) number[i++] = *q;
        return i ? strtoll(number, NULL, 10) : fallback;
    }
    return fallback;
}

static void complete_text(const pb_host_api *host, pb_call_id call, int32_t status, const char *text) {
    host->complete(host->host_ctx, call, status, (const uint8_t *)text, strlen(text));
}

typedef struct delay_job {
    const pb_host_api *host;
    pb_call_id call;
    long long ms;
} delay_job;

/* Completes a call from a thread the plugin owns, as the ABI allows. */
static void *delay_thread(void *arg) {
    delay_job *job = arg;
    const pb_host_api *host = job->host;
    long long waited = 0;
    while (waited < job->ms) {
        if (host->is_cancelled(host->host_ctx, job->call)) {
            complete_text(host, job->call, PB_TOOL_ERROR, "cancelled");
            free(job);
            return NULL;
        }
        long long step = job->ms - waited < 10 ? job->ms - waited : 10;
        struct timespec pause = {.tv_sec = 0, .tv_nsec = step * 1000000L};
        nanosleep(&pause, NULL);
        waited += step;
        host->progress(host->host_ctx, job->call, (double)waited, (double)job->ms, NULL, 0);
    }
    char out[160];
    snprintf(out, sizeof out, "{\"content\":[{\"type\":\"text\",\"text\":\"waited %lld ms\"}]}", waited);
    complete_text(host, job->call, PB_OK, out);
    free(job);
    return NULL;
}

static int32_t create(const pb_host_api *host, const uint8_t *config, size_t config_len, void **out,
                      char *error, size_t error_cap) {
    (void)config;
    (void)config_len;
    if (host->struct_size < sizeof(pb_host_api)) {
        snprintf(error, error_cap, "host callback table is older than this plugin needs");
        return PB_INTERNAL_ERROR;
    }
    instance *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(error, error_cap, "out of memory");
        return PB_INTERNAL_ERROR;
    }
    self->host = host;
    *out = self;
    return PB_OK;
}

static void invoke(void *raw, pb_call_id call, const char *handler, const uint8_t *args, size_t len) {
    instance *self = raw;
    const pb_host_api *host = self->host;
    const char *json = (const char *)args;

    if (strcmp(handler, "echo.say") == 0) {
        size_t text_len = 0;
        const char *text = string_field(json, len, "text", &text_len);
        if (!text) {
            complete_text(host, call, PB_INVALID_ARGUMENTS, "'text' is required");
            return;
        }
        static const char head[] = "{\"content\":[{\"type\":\"text\",\"text\":\"";
        static const char tail[] = "\"}]}";
        size_t size = sizeof head - 1 + text_len + sizeof tail - 1;
        char *out = malloc(size);
        if (!out) {
            complete_text(host, call, PB_INTERNAL_ERROR, "out of memory");
            return;
        }
        memcpy(out, head, sizeof head - 1);
        memcpy(out + sizeof head - 1, text, text_len); /* still JSON-escaped: valid inside the string */
        memcpy(out + sizeof head - 1 + text_len, tail, sizeof tail - 1);
        host->complete(host->host_ctx, call, PB_OK, (const uint8_t *)out, size);
        free(out);
    } else if (strcmp(handler, "echo.add") == 0) {
        long long a = integer_field(json, len, "a", 0), b = integer_field(json, len, "b", 0), sum;
        if (__builtin_add_overflow(a, b, &sum)) {
            complete_text(host, call, PB_TOOL_ERROR, "The sum does not fit in a 64-bit integer; use smaller numbers.");
            return;
        }
        char out[256];
        snprintf(out, sizeof out,
                 "{\"content\":[{\"type\":\"text\",\"text\":\"%lld\"}],\"structuredContent\":{\"sum\":%lld}}", sum, sum);
        complete_text(host, call, PB_OK, out);
    } else if (strcmp(handler, "echo.delay") == 0) {
        delay_job *job = malloc(sizeof *job);
        pthread_t thread;
        if (!job) {
            complete_text(host, call, PB_INTERNAL_ERROR, "out of memory");
            return;
        }
        *job = (delay_job){.host = host, .call = call, .ms = integer_field(json, len, "ms", 0)};
        if (pthread_create(&thread, NULL, delay_thread, job) != 0) {
            free(job);
            complete_text(host, call, PB_INTERNAL_ERROR, "cannot start a thread");
            return;
        }
        pthread_detach(thread);
    } else {
        complete_text(host, call, PB_UNKNOWN_HANDLER, "unknown handler");
    }
}

static void destroy(void *raw) { free(raw); }

static const pb_plugin descriptor = {
    .struct_size = sizeof(pb_plugin),
    .abi_major = PLUGBOARD_ABI_MAJOR,
    .abi_minor = PLUGBOARD_ABI_MINOR,
    .name = "echo_c",
    .version = "1.0.0",
    .toolchain = NULL, /* plain C: no Swift runtime to match */
    .handlers = handlers,
    .handler_count = sizeof handlers / sizeof handlers[0],
    .create = create,
    .invoke = invoke,
    .cancel = NULL, /* the delay thread polls is_cancelled instead */
    .destroy = destroy,
};

const pb_plugin *plugboard_plugin_v1(void) { return &descriptor; }
