/*
 * echo_c — a Plugboard plugin in plain C. It proves the ABI needs no Swift: it links nothing but
 * libc and pthreads, exports one function and completes calls both inline and from its own thread.
 *
 * Arguments are read with plugboard_args.h, the header-only typed reader: a real JSON reader, so a
 * member of a nested object or a name inside escaped text is never mistaken for the argument.
 */
#include <plugboard.h>
#include <plugboard_args.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct instance {
    const pb_host_api *host;
} instance;

static const char *const handlers[] = {"echo.say", "echo.add", "echo.delay"};

/* Writes `len` bytes of UTF-8 as the body of a JSON string (no quotes) into out, which has room
 * for 6 bytes per input byte; returns the bytes written. */
static size_t escape_json(const char *text, size_t len, char *out) {
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        switch (c) {
        case '"': out[n++] = '\\'; out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; out[n++] = '\\'; break;
        case '\n': out[n++] = '\\'; out[n++] = 'n'; break;
        case '\r': out[n++] = '\\'; out[n++] = 'r'; break;
        case '\t': out[n++] = '\\'; out[n++] = 't'; break;
        default:
            if (c < 0x20) {
                memcpy(out + n, "\\u00", 4);
                out[n + 4] = hex[c >> 4];
                out[n + 5] = hex[c & 15];
                n += 6;
            } else {
                out[n++] = (char)c;
            }
        }
    }
    return n;
}

/* Completes `call` with PB_INVALID_ARGUMENTS naming the argument and what is wrong with it. */
static void refuse_argument(const pb_host_api *host, pb_call_id call, const char *name, pb_json_status status) {
    char message[160];
    int n = snprintf(message, sizeof message, "argument '%s' is %s", name, pb_json_status_text(status));
    host->complete(host->host_ctx, call, PB_INVALID_ARGUMENTS, (const uint8_t *)message, n > 0 ? (size_t)n : 0);
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
    /* The table is read by its own size (plugboard.h, Versioning): this plugin uses the ABI 1.0
     * callbacks, which end with `complete`, so an older or newer host's table is fine as long as
     * it reaches that far. Testing against sizeof(pb_host_api) would refuse hosts older than this
     * header for fields the plugin never reads. */
    if (host->struct_size < offsetof(pb_host_api, complete) + sizeof host->complete) {
        snprintf(error, error_cap, "the host's callback table (%u bytes) ends before `complete`, which this plugin needs",
                 (unsigned)host->struct_size);
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
    pb_json arguments;
    pb_json_status status;

    if (pb_json_parse(args, len, &arguments) != PB_JSON_OK) {
        complete_text(host, call, PB_INVALID_ARGUMENTS, "the arguments are not a JSON value");
        return;
    }
    if (strcmp(handler, "echo.say") == 0) {
        /* Ask for the length first (a buffer of 0 bytes), then read into one of the right size. */
        size_t text_len = 0;
        status = pb_args_string(arguments, "text", NULL, 0, &text_len);
        if (status != PB_JSON_TOO_SMALL && status != PB_JSON_OK) {
            refuse_argument(host, call, "text", status);
            return;
        }
        static const char head[] = "{\"content\":[{\"type\":\"text\",\"text\":\"";
        static const char tail[] = "\"}]}";
        char *text = malloc(text_len + 1);
        char *out = malloc(sizeof head - 1 + 6 * text_len + sizeof tail - 1);
        if (!text || !out) {
            free(text);
            free(out);
            complete_text(host, call, PB_INTERNAL_ERROR, "out of memory");
            return;
        }
        pb_args_string(arguments, "text", text, text_len + 1, &text_len);
        size_t size = sizeof head - 1;
        memcpy(out, head, size);
        size += escape_json(text, text_len, out + size);
        memcpy(out + size, tail, sizeof tail - 1);
        size += sizeof tail - 1;
        host->complete(host->host_ctx, call, PB_OK, (const uint8_t *)out, size);
        free(text);
        free(out);
    } else if (strcmp(handler, "echo.add") == 0) {
        int64_t a = 0, b = 0, sum;
        if ((status = pb_args_int64(arguments, "a", &a)) != PB_JSON_OK) {
            refuse_argument(host, call, "a", status);
            return;
        }
        if ((status = pb_args_int64(arguments, "b", &b)) != PB_JSON_OK) {
            refuse_argument(host, call, "b", status);
            return;
        }
        if (__builtin_add_overflow(a, b, &sum)) {
            complete_text(host, call, PB_TOOL_ERROR, "The sum does not fit in a 64-bit integer; use smaller numbers.");
            return;
        }
        char out[256];
        snprintf(out, sizeof out,
                 "{\"content\":[{\"type\":\"text\",\"text\":\"%lld\"}],\"structuredContent\":{\"sum\":%lld}}",
                 (long long)sum, (long long)sum);
        complete_text(host, call, PB_OK, out);
    } else if (strcmp(handler, "echo.delay") == 0) {
        int64_t ms = 0;
        if ((status = pb_args_int64(arguments, "ms", &ms)) != PB_JSON_OK) {
            refuse_argument(host, call, "ms", status);
            return;
        }
        delay_job *job = malloc(sizeof *job);
        pthread_t thread;
        if (!job) {
            complete_text(host, call, PB_INTERNAL_ERROR, "out of memory");
            return;
        }
        *job = (delay_job){.host = host, .call = call, .ms = ms};
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
    .swift_version = NULL, /* plain C */
};

const pb_plugin *plugboard_plugin_v1(void) { return &descriptor; }
