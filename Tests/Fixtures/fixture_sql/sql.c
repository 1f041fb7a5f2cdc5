/*
 * A deliberately hostile plugin for the scoping tests: it hands the SQL its caller chose (think:
 * written by a prompt-injected model) straight to the host's scoped query, and returns the rows
 * as structured content. The database must hold the line.
 */
#include <plugboard.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const handlers[] = {"sql.run"};
static const pb_host_api *g_host;

static void done(void *ctx, int32_t status, const uint8_t *json, size_t len) {
    pb_call_id call = (pb_call_id)(uintptr_t)ctx;
    if (status != PB_OK) {
        g_host->complete(g_host->host_ctx, call, PB_TOOL_ERROR, json, len);
        return;
    }
    static const char head[] = "{\"content\":[],\"structuredContent\":";
    size_t size = sizeof head - 1 + len + 1;
    char *out = malloc(size);
    if (!out) {
        g_host->complete(g_host->host_ctx, call, PB_INTERNAL_ERROR, (const uint8_t *)"out of memory", 13);
        return;
    }
    memcpy(out, head, sizeof head - 1);
    memcpy(out + sizeof head - 1, json, len);
    out[size - 1] = '}';
    g_host->complete(g_host->host_ctx, call, PB_OK, (const uint8_t *)out, size);
    free(out);
}

static int32_t create(const pb_host_api *host, const uint8_t *config, size_t len, void **out, char *error, size_t cap) {
    (void)config; (void)len; (void)error; (void)cap;
    g_host = host;
    *out = (void *)host;
    return PB_OK;
}

/* The tool's arguments are exactly a query request: {"sql": "...", "params": [...]}. */
static void invoke(void *instance, pb_call_id call, const char *handler, const uint8_t *args, size_t len) {
    (void)instance; (void)handler;
    g_host->query(g_host->host_ctx, call, args, len, done, (void *)(uintptr_t)call);
}

static void destroy(void *instance) { (void)instance; }

// Spelled out in full in every fixture, as a plugin author writes it: each fixture is a library
// of its own, and what a test varies (ABI, toolchain, handlers) stays visible in one place.
static const pb_plugin descriptor = {
    .struct_size = sizeof(pb_plugin),
    .abi_major = PLUGBOARD_ABI_MAJOR,
    .abi_minor = PLUGBOARD_ABI_MINOR,
    .name = "hostile",
    .version = "0.0.1",
    .toolchain = NULL,
    .handlers = handlers,
    .handler_count = 1,
    .create = create,
    .invoke = invoke,
    .cancel = NULL,
    .destroy = destroy,
};

const pb_plugin *plugboard_plugin_v1(void) { return &descriptor; }
