import Foundation

/// A C plugin: one source file reading its arguments with plugboard_args.h, and a Makefile.
enum CScaffold {
    static func files(_ names: ScaffoldNames, sdk: URL) -> [(path: String, text: String)] {
        [
            ("Makefile", makefile(names, sdk: sdk)),
            ("\(names.product).c", source(names)),
            ("manifest.yaml", ScaffoldManifest.text(names, source: "\(names.product).c")),
            ("README.md", readme(names)),
            (".gitignore", "*.so\n"),
        ]
    }

    static func makefile(_ names: ScaffoldNames, sdk: URL) -> String {
        """
        # The library goes next to manifest.yaml, where the host looks first.
        # PLUGBOARD_SDK: the Plugboard checkout holding plugboard.h and plugboard_args.h.
        PLUGBOARD_SDK ?= \(sdk.path)
        CC ?= cc

        lib\(names.product).so: \(names.product).c
        \t$(CC) -shared -fPIC -O2 -Wall -Wextra -Wl,-Bsymbolic -I "$(PLUGBOARD_SDK)/Sources/CPlugboard/include" -o $@ $< -pthread

        clean:
        \trm -f lib\(names.product).so

        .PHONY: clean

        """
    }

    static func source(_ names: ScaffoldNames) -> String {
        """
        /* \(names.plugin): a Plugboard plugin in C. plugboard.h is the whole contract; plugboard_args.h
         * reads the JSON arguments without ever reading past their length. */
        #include <plugboard.h>
        #include <plugboard_args.h>

        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>

        typedef struct instance {
            const pb_host_api *host;
        } instance;

        static const char *const handlers[] = {\(names.quoted(names.handler))};

        static void complete_text(const pb_host_api *host, pb_call_id call, int32_t status, const char *text) {
            host->complete(host->host_ctx, call, status, (const uint8_t *)text, strlen(text));
        }

        static int32_t create(const pb_host_api *host, const uint8_t *config, size_t config_len, void **out,
                              char *error, size_t error_cap) {
            (void)config;
            (void)config_len;
            /* Tables are read by their size: this plugin needs the callbacks up to `complete`. */
            if (host->struct_size < offsetof(pb_host_api, complete) + sizeof host->complete) {
                snprintf(error, error_cap, "the host's callback table ends before `complete`");
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

        /* Completes `call` with PB_INVALID_ARGUMENTS naming the argument and what is wrong with it. */
        static void refuse_argument(const pb_host_api *host, pb_call_id call, const char *name, pb_json_status status) {
            char message[160];
            snprintf(message, sizeof message, "argument '%s' is %s", name, pb_json_status_text(status));
            complete_text(host, call, PB_INVALID_ARGUMENTS, message);
        }

        static void invoke(void *raw, pb_call_id call, const char *handler, const uint8_t *args, size_t len) {
            const pb_host_api *host = ((instance *)raw)->host;
            if (strcmp(handler, handlers[0]) != 0) {
                complete_text(host, call, PB_UNKNOWN_HANDLER, "unknown handler");
                return;
            }
            pb_json arguments;
            pb_json_status status;
            int64_t a = 0, b = 0, sum;
            if (pb_json_parse(args, len, &arguments) != PB_JSON_OK) {
                complete_text(host, call, PB_INVALID_ARGUMENTS, "the arguments are not a JSON value");
                return;
            }
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
            char out[128];
            snprintf(out, sizeof out, "{\\"content\\":[{\\"type\\":\\"text\\",\\"text\\":\\"%lld\\"}],\\"structuredContent\\":{\\"sum\\":%lld}}",
                     (long long)sum, (long long)sum);
            complete_text(host, call, PB_OK, out);
        }

        static void destroy(void *raw) { free(raw); }

        static const pb_plugin descriptor = {
            .struct_size = sizeof(pb_plugin),
            .abi_major = PLUGBOARD_ABI_MAJOR,
            .abi_minor = PLUGBOARD_ABI_MINOR,
            .name = \(names.quoted(names.plugin)),
            .version = "0.1.0",
            .toolchain = NULL, /* plain C: no Swift runtime to match */
            .handlers = handlers,
            .handler_count = sizeof handlers / sizeof handlers[0],
            .create = create,
            .invoke = invoke,
            .cancel = NULL,
            .destroy = destroy,
            .swift_version = NULL,
        };

        const pb_plugin *plugboard_plugin_v1(void) { return &descriptor; }

        """
    }

    static func readme(_ names: ScaffoldNames) -> String {
        """
        # \(names.plugin)

        A Plugboard plugin in C, written by `plugboard new plugin \(names.plugin) --lang c`. One tool,
        `add` (handler `\(names.handler)`), in `\(names.product).c`; what clients see is in `manifest.yaml`.

        ## Build

        ```sh
        make                     # lib\(names.product).so next to manifest.yaml
        make PLUGBOARD_SDK=/path/to/plugboard   # another checkout's plugboard.h
        ```

        \(ScaffoldManifest.runSection(names, build: "make"))
        """
    }
}
