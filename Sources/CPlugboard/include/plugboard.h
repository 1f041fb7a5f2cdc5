/*
 * plugboard.h — the Plugboard plugin ABI, version 1.
 *
 * This header is the whole contract between the Plugboard host and a plugin library. It is plain
 * C so a plugin can be written in any language that exports a C function; the Swift SDK
 * (PlugboardKit) is one convenience on top of it.
 *
 * ---------------------------------------------------------------------------------------------
 * Shape
 * ---------------------------------------------------------------------------------------------
 * A plugin library exports exactly one function:
 *
 *     const pb_plugin *plugboard_plugin_v1(void);
 *
 * It returns a pointer to a static descriptor (`pb_plugin`) that stays valid for as long as the
 * library is mapped. The host reads the descriptor *before* calling anything else: it checks
 * `struct_size`, the ABI major version, the toolchain and that every handler its manifest names is
 * listed in `handlers`. Only then does it call `create`.
 *
 * Versioning (the SQLite extension / PostgreSQL magic-block model):
 *   - `abi_major` must equal the host's PLUGBOARD_ABI_MAJOR, or the plugin is refused by name.
 *   - Structures only ever grow at the end. Every structure starts with its `struct_size`; a reader
 *     uses a field only if the writer's `struct_size` covers it. So a newer plugin works on an
 *     older host and the other way round within one major version.
 *   - So never read a structure the other side wrote at this header's sizeof: the plugin's
 *     `pb_host_api` may be shorter (an older host) or longer (a newer one). Read `struct_size`
 *     first, then either test it before each field or copy min(struct_size, sizeof) bytes into a
 *     zeroed structure, where a field the writer did not have reads as NULL / 0. The host reads a
 *     plugin's `pb_plugin` the same way.
 *
 * ---------------------------------------------------------------------------------------------
 * Calls
 * ---------------------------------------------------------------------------------------------
 * Every call is asynchronous. The host calls `invoke` and it must return promptly (never block on
 * I/O inside `invoke`). The plugin finishes the call later, from any thread, by calling the host's
 * `complete` callback exactly once with the call's id. The host enforces each tool's timeout: when
 * it expires the host answers the client itself and calls `cancel`; a `complete` that arrives after
 * that, or a second `complete` for the same call, is ignored (and logged), never a crash.
 *
 * Payloads are UTF-8 JSON. What `invoke` receives and what `complete` must return depends on the
 * kind of handler (the manifest decides which handler serves a tool, a resource or a prompt):
 *
 *   tool      in:  the tool's arguments object, already validated against the manifest's
 *                  input_schema, e.g. {"a":1,"b":2}
 *             out: PB_OK with an MCP CallToolResult object:
 *                  {"content":[{"type":"text","text":"..."}], "structuredContent":{...}}
 *                  or PB_TOOL_ERROR with a UTF-8 message the model can act on.
 *   resource  in:  {"uri":"projects://42","params":{"id":"42"}}  (params from the uri template)
 *             out: PB_OK with {"contents":[{"uri":"...","mimeType":"...","text":"..."}]}
 *                  ("blob" with base64 instead of "text" for binary), or PB_NOT_FOUND.
 *   prompt    in:  {"arguments":{"name":"value"}}
 *             out: PB_OK with {"description":"...","messages":[{"role":"user",
 *                  "content":{"type":"text","text":"..."}}]}
 *
 * ---------------------------------------------------------------------------------------------
 * Ownership and lifetime
 * ---------------------------------------------------------------------------------------------
 *   - Buffers are (pointer, length) pairs and are *borrowed*: the receiver copies what it needs
 *     before returning. Nothing is ever freed across the boundary.
 *       * `args` passed to `invoke`, `handler` and the `config` passed to `create` are valid only
 *         until that function returns.
 *       * `json` passed to `complete`, `msg` passed to `log`/`progress` and the request passed to
 *         `query` are valid only until that callback returns (the host copies them).
 *       * The `json` passed to a `pb_query_done_fn` is valid only until that function returns.
 *   - The `pb_host_api` table passed to `create` stays valid until `destroy` returns. Its
 *     callbacks may be called from any thread, concurrently.
 *   - A call id is valid from `invoke` until the plugin calls `complete` for it. Passing a call id
 *     that has completed (or timed out) to a callback is harmless: the host ignores it.
 *   - `destroy` is called once, after the last call of this instance has completed or timed out.
 *     The library itself is never unloaded while the process lives (Swift images cannot be
 *     dlclose'd safely on Linux), so static storage may outlive the instance.
 *   - `create` runs once per loaded generation of the plugin; a plugin must not keep global state
 *     that assumes a single instance.
 *
 * Threads: the host never calls `invoke` on a thread that may block; the plugin may complete on
 * the calling thread (synchronously, inside `invoke`) or on any other thread.
 */
#ifndef PLUGBOARD_H
#define PLUGBOARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PLUGBOARD_ABI_MAJOR 1
/* Minor versions only append fields (see Versioning above):
 *   1.1  pb_plugin.swift_version */
#define PLUGBOARD_ABI_MINOR 1

/* The one symbol a plugin library exports. */
#define PLUGBOARD_ENTRY_SYMBOL "plugboard_plugin_v1"

/* Status codes for `complete`, `create` and query completions. */
#define PB_OK 0                /* success; bytes carry the result JSON described above */
#define PB_TOOL_ERROR 1        /* bytes: UTF-8 message for the model (a tool result with isError) */
#define PB_INVALID_ARGUMENTS 2 /* bytes: UTF-8 message saying which argument is wrong and why */
#define PB_NOT_FOUND 3         /* bytes: UTF-8 message; e.g. a resource that does not exist */
#define PB_INTERNAL_ERROR 4    /* bytes: UTF-8 message for the operator's log; the client sees a generic error */
#define PB_UNKNOWN_HANDLER 5   /* the handler name is not implemented by this library */
#define PB_UNAVAILABLE 6       /* a host service is not available (e.g. no database configured) */

/* Log levels for the `log` callback. */
#define PB_LOG_DEBUG 0
#define PB_LOG_INFO 1
#define PB_LOG_WARNING 2
#define PB_LOG_ERROR 3

/* Identifies one call from `invoke` to `complete`. Never 0. */
typedef uint64_t pb_call_id;

/* Completion of an asynchronous host service (the scoped query). Called exactly once, from any
 * thread, possibly before `query` returns. `json` is borrowed. */
typedef void (*pb_query_done_fn)(void *done_ctx, int32_t status, const uint8_t *json, size_t len);

/* Host services, handed to the plugin by `create`. Append-only. */
typedef struct pb_host_api {
    uint32_t struct_size;      /* sizeof(pb_host_api) as the host was built */
    uint16_t abi_major;
    uint16_t abi_minor;
    void *host_ctx;            /* pass back as the first argument of every callback */

    /* Write to the host's log, attributed to this plugin (and to `call` when it is not 0). */
    void (*log)(void *host_ctx, pb_call_id call, int32_t level, const char *msg, size_t len);

    /* Report progress of a call. `progress` must increase from one report to the next; `total` is
     * negative when unknown; `msg` may be NULL. Reports for calls whose client did not ask for
     * progress are dropped cheaply. */
    void (*progress)(void *host_ctx, pb_call_id call, double progress, double total,
                     const char *msg, size_t len);

    /* 1 when the client cancelled the call or its timeout expired; the plugin should stop and
     * complete (its result is then discarded). */
    int32_t (*is_cancelled)(void *host_ctx, pb_call_id call);

    /* Copies the owner of the call (the authenticated user the call runs for) into `buf`, which
     * is not NUL-terminated, and returns the owner's length in bytes. When the return value is
     * greater than `cap`, nothing was copied: call again with a larger buffer. Returns 0 for an
     * unknown call. */
    size_t (*owner)(void *host_ctx, pb_call_id call, char *buf, size_t cap);

    /* Run a query scoped to the call's owner. `request` is JSON:
     *   {"sql":"SELECT ... WHERE id = $1","params":[42]}
     * `done` receives PB_OK with {"columns":[...],"rows":[[...]],"truncated":false}, or an error
     * status with a UTF-8 message (PB_UNAVAILABLE when the host has no database configured). */
    void (*query)(void *host_ctx, pb_call_id call, const uint8_t *request, size_t len,
                  pb_query_done_fn done, void *done_ctx);

    /* Finish a call. Exactly once per call, from any thread. `json` is borrowed. */
    void (*complete)(void *host_ctx, pb_call_id call, int32_t status, const uint8_t *json, size_t len);
} pb_host_api;

/* What a plugin library is, returned by plugboard_plugin_v1(). Static storage. Append-only. */
typedef struct pb_plugin {
    uint32_t struct_size;      /* sizeof(pb_plugin) as the plugin was built */
    uint16_t abi_major;        /* PLUGBOARD_ABI_MAJOR the plugin was built against */
    uint16_t abi_minor;
    const char *name;          /* plugin name; should match the manifest's `plugin:` */
    const char *version;
    /* The compiler toolchain for plugins that use the Swift runtime (PB_TOOLCHAIN() below), which
     * must equal the host's because both share one runtime. NULL for plugins that do not use the
     * Swift runtime (C, C++, Rust, Zig ...). */
    const char *toolchain;
    const char *const *handlers; /* names of the handlers this library implements */
    size_t handler_count;

    /* Create an instance. `config` is the manifest's `config:` section as JSON ("{}" when
     * absent). On failure return a non-zero status and write a NUL-terminated reason into `error`
     * (at most `error_cap` bytes including the NUL). */
    int32_t (*create)(const pb_host_api *host, const uint8_t *config, size_t config_len,
                      void **instance, char *error, size_t error_cap);

    /* Start a call. Returns at once; finish it with host->complete(call, ...). `handler` is a
     * NUL-terminated name from `handlers`. */
    void (*invoke)(void *instance, pb_call_id call, const char *handler,
                   const uint8_t *args, size_t args_len);

    /* Optional (may be NULL): the client cancelled `call` or its timeout expired. The plugin
     * should stop work; it may still call complete (which the host then ignores). */
    void (*cancel)(void *instance, pb_call_id call);

    /* Release the instance. No call of this instance is in flight. */
    void (*destroy)(void *instance);

    /* ABI 1.1. The Swift version that built a plugin using the Swift runtime, in words ("6.3.1"),
     * so that a toolchain refusal can name it; NULL for plugins that do not use the Swift runtime.
     * The host reads it only when struct_size covers it (a 1.0 descriptor ends before it). */
    const char *swift_version;
} pb_plugin;

typedef const pb_plugin *(*pb_entry_fn)(void);

/* The toolchain string for plugins that use the Swift runtime: the version of the clang that
 * ships inside the Swift toolchain, which names that toolchain exactly. Expanded in the plugin
 * when it is built and in the host when it is built, so a mismatch is caught at load time. */
static inline const char *pb_toolchain(void) {
#if defined(__clang_version__)
    return "clang " __clang_version__;
#else
    return "unknown";
#endif
}

/* The Swift compiler's version as major * 10000 + minor * 100 + patch (60301 for 6.3.1) where this
 * header is compiled by Swift's clang importer, which defines __swift__; 0 in a plain C compile. */
static inline int pb_swift_version_number(void) {
#if defined(__swift__)
    return __swift__;
#else
    return 0;
#endif
}

#ifdef __cplusplus
}
#endif

#endif /* PLUGBOARD_H */
