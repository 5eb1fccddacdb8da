/* Crash-isolation fixture "Hangs": its ingest never returns and never looks at is_cancelled, so only killing its
 * process ends it. It also answers real-time calls, some of which misbehave:
 *   "echo"     responds with the request        "version"  responds with its version
 *   "pid"      responds with its process id     "crash"    segfaults
 *   "hang"     never returns                    others     fail with WHARF_ERR_UNSUPPORTED
 *
 * Config (all optional, for the plugin-upgrade test):
 *   startedFile  a file it creates as soon as its ingest begins (so a test knows this library version is running)
 *   releaseFile  with it, the plugin waits (still ignoring cancels) until this file exists, then emits one product
 *                named after its own version and succeeds
 *   sku          that product's SKU (default "HANGS-1")
 * Relative paths resolve against the manifest's folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "fixture_plugin.h"

/* The version, also in the product's name: the upgrade test patches this string in a copy to make "2.0.0". */
#define HANGS_VERSION "1.0.0-r1"

static const wharf_host_api *hangs_host;

static wharf_status hangs_create(const wharf_host_api *host, wharf_context *ctx, void **out_instance) {
    (void)ctx;
    hangs_host = host;
    *out_instance = NULL;
    return WHARF_OK;
}

static void hangs_nap(void) {
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
}

/* The configured path, resolved, copied into `out`; 0 when not configured. */
static int hangs_path(wharf_context *ctx, const char *key, char *out, size_t capacity) {
    const char *value = hangs_host->config_string(ctx, key);
    if (value == NULL || value[0] == '\0') return 0;
    const char *resolved = hangs_host->resolve_path(ctx, value);
    snprintf(out, capacity, "%s", resolved != NULL ? resolved : value);
    return 1;
}

static wharf_status hangs_ingest(void *instance, wharf_context *ctx) {
    (void)instance;
    char started[4096], release[4096], sku[256];
    if (hangs_path(ctx, "startedFile", started, sizeof started)) {
        FILE *file = fopen(started, "w");
        if (file != NULL) {
            fputs(HANGS_VERSION "\n", file);
            fclose(file);
        }
    }
    hangs_host->log(ctx, WHARF_LOG_INFO, "fixture-hangs " HANGS_VERSION " is hanging");
    if (!hangs_path(ctx, "releaseFile", release, sizeof release)) {
        for (;;) hangs_nap(); /* forever; is_cancelled is never asked */
    }
    while (access(release, F_OK) != 0) hangs_nap();
    const char *configured = hangs_host->config_string(ctx, "sku");
    snprintf(sku, sizeof sku, "%s", configured != NULL ? configured : "HANGS-1");
    const char *name = "fixture-hangs " HANGS_VERSION;
    wharf_field fields[] = {{"sku", sku, strlen(sku)}, {"name", name, strlen(name)}};
    wharf_record record = {.struct_size = sizeof(wharf_record), .field_count = 2, .entity = "product", .fields = fields};
    wharf_emit_counts counts = {.struct_size = sizeof(wharf_emit_counts)};
    return hangs_host->emit(ctx, &record, 1, NULL, &counts);
}

static wharf_status hangs_call(void *instance, wharf_context *ctx, const char *operation, const char *request,
                               size_t request_len) {
    (void)instance;
    char text[64];
    if (strcmp(operation, "echo") == 0) return hangs_host->set_response(ctx, request, request_len);
    if (strcmp(operation, "version") == 0) return hangs_host->set_response(ctx, HANGS_VERSION, strlen(HANGS_VERSION));
    if (strcmp(operation, "pid") == 0) {
        int length = snprintf(text, sizeof text, "%ld", (long)getpid());
        return hangs_host->set_response(ctx, text, (size_t)length);
    }
    if (strcmp(operation, "crash") == 0) *(volatile int *)0 = 1; /* SIGSEGV */
    if (strcmp(operation, "hang") == 0) {
        for (;;) hangs_nap();
    }
    hangs_host->set_error(ctx, "unknown operation; this fixture knows echo, version, pid, crash and hang");
    return WHARF_ERR_UNSUPPORTED;
}

static const wharf_plugin_descriptor descriptor = {
    .struct_size = sizeof(wharf_plugin_descriptor), .abi_major = WHARF_ABI_MAJOR, .abi_minor = WHARF_ABI_MINOR,
    .id = "fixture-hangs", .system_kind = "other", .version = HANGS_VERSION,
    .description = "test fixture: ingest loops forever and ignores cancels; calls that crash or hang",
    .capabilities = WHARF_CAP_INGEST | WHARF_CAP_CALL, .create = hangs_create, .destroy = fixture_destroy,
    .ingest = hangs_ingest, .call = hangs_call,
};
FIXTURE_ENTRY(descriptor)
