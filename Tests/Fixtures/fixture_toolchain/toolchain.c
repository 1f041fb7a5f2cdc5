/* A plugin claiming to need the Swift runtime of a different toolchain: the host must refuse it,
 * naming both toolchains, before calling anything in it. */
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
    .abi_major = PLUGBOARD_ABI_MAJOR,
    .abi_minor = PLUGBOARD_ABI_MINOR,
    .name = "othertoolchain",
    .version = "1.0.0",
    .toolchain = "clang 0.0.0 (a different Swift toolchain)",
    .handlers = handlers,
    .handler_count = 1,
    .create = create,
    .invoke = invoke,
    .cancel = NULL,
    .destroy = destroy,
    .swift_version = "5.10.1",
};

const pb_plugin *plugboard_plugin_v1(void) { return &descriptor; }
