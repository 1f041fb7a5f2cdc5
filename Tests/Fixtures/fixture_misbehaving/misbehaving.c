/*
 * A deliberately misbehaving plugin for the host's tests: it hangs, completes twice, returns
 * broken JSON, leaks internal details in errors, can refuse to start, and parks a call for
 * fixture_thief to try to steal. The host must stay up
 * and keep serving through all of it.
 */
#define _GNU_SOURCE
#include <plugboard.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const handlers[] = {
    "hang", "twice", "bad_json", "wrong_shape", "bad_structured", "internal", "owner", "query", "late", "park",
};

static const pb_host_api *g_host;

static void reply(pb_call_id call, int32_t status, const char *text) {
    g_host->complete(g_host->host_ctx, call, status, (const uint8_t *)text, strlen(text));
}

static int32_t create(const pb_host_api *host, const uint8_t *config, size_t len, void **out, char *error, size_t cap) {
    if (len > 0 && memmem(config, len, "\"fail_init\":true", 16)) {
        snprintf(error, cap, "refusing to start: fail_init is set");
        return PB_INTERNAL_ERROR;
    }
    g_host = host;
    *out = (void *)host;
    return PB_OK;
}

typedef struct late_job {
    pb_call_id call;
} late_job;

/* Completes a call long after the host gave up on it. */
static void *late_thread(void *arg) {
    late_job *job = arg;
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 400 * 1000000L};
    nanosleep(&pause, NULL);
    reply(job->call, PB_OK, "{\"content\":[{\"type\":\"text\",\"text\":\"too late\"}]}");
    free(job);
    return NULL;
}

static void query_done(void *ctx, int32_t status, const uint8_t *json, size_t len) {
    pb_call_id call = (pb_call_id)(uintptr_t)ctx;
    char out[512];
    snprintf(out, sizeof out, "{\"content\":[{\"type\":\"text\",\"text\":\"status %d: %.*s\"}]}", status, (int)(len > 300 ? 300 : len),
             (const char *)json);
    reply(call, PB_OK, out);
}

static void invoke(void *instance, pb_call_id call, const char *handler, const uint8_t *args, size_t len) {
    (void)instance;
    (void)args;
    (void)len;
    if (strcmp(handler, "hang") == 0) {
        return; /* never completes: the host's timeout must answer */
    } else if (strcmp(handler, "park") == 0) {
        /* Announces its call id (as a progress message) for fixture_thief, then hangs. */
        char id[32];
        int n = snprintf(id, sizeof id, "%llu", (unsigned long long)call);
        g_host->progress(g_host->host_ctx, call, 1, -1, id, (size_t)n);
    } else if (strcmp(handler, "twice") == 0) {
        reply(call, PB_OK, "{\"content\":[{\"type\":\"text\",\"text\":\"first\"}]}");
        reply(call, PB_OK, "{\"content\":[{\"type\":\"text\",\"text\":\"second\"}]}");
    } else if (strcmp(handler, "bad_json") == 0) {
        reply(call, PB_OK, "{\"content\": [ this is not json");
    } else if (strcmp(handler, "wrong_shape") == 0) {
        reply(call, PB_OK, "{\"content\":\"a string, not an array\"}");
    } else if (strcmp(handler, "bad_structured") == 0) {
        reply(call, PB_OK, "{\"content\":[],\"structuredContent\":{\"count\":\"not a number\"}}");
    } else if (strcmp(handler, "internal") == 0) {
        reply(call, PB_INTERNAL_ERROR, "connection to 10.1.2.3 refused (password=hunter2)");
    } else if (strcmp(handler, "owner") == 0) {
        char owner[256];
        size_t n = g_host->owner(g_host->host_ctx, call, owner, sizeof owner);
        char out[512];
        snprintf(out, sizeof out, "{\"content\":[{\"type\":\"text\",\"text\":\"owner=%.*s\"}]}", (int)(n > sizeof owner ? 0 : n), owner);
        reply(call, PB_OK, out);
    } else if (strcmp(handler, "query") == 0) {
        static const char request[] = "{\"sql\":\"SELECT 1\",\"params\":[]}";
        g_host->query(g_host->host_ctx, call, (const uint8_t *)request, sizeof request - 1, query_done, (void *)(uintptr_t)call);
    } else if (strcmp(handler, "late") == 0) {
        late_job *job = malloc(sizeof *job);
        pthread_t thread;
        if (!job) return;
        job->call = call;
        if (pthread_create(&thread, NULL, late_thread, job) == 0) pthread_detach(thread); else free(job);
    } else {
        reply(call, PB_UNKNOWN_HANDLER, "unknown handler");
    }
}

static void destroy(void *instance) { (void)instance; }

// Spelled out in full in every fixture, as a plugin author writes it: each fixture is a library
// of its own, and what a test varies (ABI, toolchain, handlers) stays visible in one place.
static const pb_plugin descriptor = {
    .struct_size = sizeof(pb_plugin),
    .abi_major = PLUGBOARD_ABI_MAJOR,
    .abi_minor = PLUGBOARD_ABI_MINOR,
    .name = "misbehaving",
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
