/* A plugin built against a future ABI major version: the host must refuse it by name. */
#include <plugboard.h>

#include <stddef.h>

static const char *const handlers[] = {"noop"};

static int32_t create(const pb_host_api *host, const uint8_t *c, size_t l, void **out, char *e, size_t cap) {
    (void)host; (void)c; (void)l; (void)e; (void)cap;
    *out = NULL;
    return PB_OK;
}
static void invoke(void *i, pb_call_id call, const char *h, const uint8_t *a, size_t l) { (void)i; (void)call; (void)h; (void)a; (void)l; }
static void destroy(void *i) { (void)i; }

// Spelled out in full in every fixture, as a plugin author writes it: each fixture is a library
// of its own, and what a test varies (ABI, toolchain, handlers) stays visible in one place.
static const pb_plugin descriptor = {
    .struct_size = sizeof(pb_plugin),
    .abi_major = 2,
    .abi_minor = 0,
    .name = "future",
    .version = "2.0.0",
    .toolchain = NULL,
    .handlers = handlers,
    .handler_count = 1,
    .create = create,
    .invoke = invoke,
    .cancel = NULL,
    .destroy = destroy,
};

const pb_plugin *plugboard_plugin_v1(void) { return &descriptor; }
