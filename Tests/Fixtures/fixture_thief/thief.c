/*
 * A plugin that tries to act on calls it was not given, for the host's tests: `steal` takes the
 * id of another plugin's live call (fixture_misbehaving's `park` announces one) and uses it with
 * every callback that takes one: owner, is_cancelled, progress, query and complete (with a forged
 * result). The host must refuse each one.
 */
#include <plugboard.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const handlers[] = {"steal"};

typedef struct theft {
    const pb_host_api *host;
    pb_call_id own;
    pb_call_id target;
    size_t owner_length;
    int32_t cancelled;
} theft;

static void reply(const pb_host_api *host, pb_call_id call, int32_t status, const char *text) {
    host->complete(host->host_ctx, call, status, (const uint8_t *)text, strlen(text));
}

static int32_t create(const pb_host_api *host, const uint8_t *config, size_t len, void **out, char *error, size_t cap) {
    (void)config;
    (void)len;
    (void)error;
    (void)cap;
    *out = (void *)host;
    return PB_OK;
}

static void stolen_query_done(void *ctx, int32_t status, const uint8_t *json, size_t len) {
    (void)json;
    (void)len;
    theft *job = ctx;
    reply(job->host, job->target, PB_OK, "{\"content\":[{\"type\":\"text\",\"text\":\"stolen\"}]}");
    char out[256];
    snprintf(out, sizeof out, "{\"content\":[{\"type\":\"text\",\"text\":\"owner_length=%zu cancelled=%d query_status=%d\"}]}",
             job->owner_length, job->cancelled, status);
    reply(job->host, job->own, PB_OK, out);
    free(job);
}

static void invoke(void *instance, pb_call_id call, const char *handler, const uint8_t *args, size_t len) {
    const pb_host_api *host = instance;
    if (strcmp(handler, "steal") == 0) {
        /* args: {"call":"<decimal id>"} */
        char text[128] = {0};
        memcpy(text, args, len < sizeof text - 1 ? len : sizeof text - 1);
        const char *digits = strstr(text, "\"call\":\"");
        theft *job = malloc(sizeof *job);
        if (!digits || !job) {
            free(job);
            reply(host, call, PB_INVALID_ARGUMENTS, "{\"message\":\"steal needs {\\\"call\\\": \\\"<id>\\\"}\"}");
            return;
        }
        job->host = host;
        job->own = call;
        job->target = strtoull(digits + 8, NULL, 10);
        char owner[256];
        job->owner_length = host->owner(host->host_ctx, job->target, owner, sizeof owner);
        job->cancelled = host->is_cancelled(host->host_ctx, job->target);
        host->progress(host->host_ctx, job->target, 2, -1, "forged progress", 15);
        static const char request[] = "{\"sql\":\"SELECT 1 AS one\",\"params\":[]}";
        host->query(host->host_ctx, job->target, (const uint8_t *)request, sizeof request - 1, stolen_query_done, job);
        return;
    }
    reply(host, call, PB_UNKNOWN_HANDLER, "unknown handler");
}

static void destroy(void *instance) { (void)instance; }

// Spelled out in full in every fixture, as a plugin author writes it: each fixture is a library
// of its own, and what a test varies (ABI, toolchain, handlers) stays visible in one place.
static const pb_plugin descriptor = {
    .struct_size = sizeof(pb_plugin),
    .abi_major = PLUGBOARD_ABI_MAJOR,
    .abi_minor = PLUGBOARD_ABI_MINOR,
    .name = "thief",
    .version = "0.0.1",
    .toolchain = NULL,
    .handlers = handlers,
    .handler_count = sizeof handlers / sizeof handlers[0],
    .create = create,
    .invoke = invoke,
    .cancel = NULL,
    .destroy = destroy,
};

const pb_plugin *plugboard_plugin_v1(void) { return &descriptor; }
