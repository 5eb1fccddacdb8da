/* Crash-isolation fixture "Aborts": logs a line and calls abort() during its ingest (SIGABRT). */
#include <stdio.h>
#include <stdlib.h>
#include "fixture_plugin.h"

static const wharf_host_api *aborts_host;

static wharf_status aborts_create(const wharf_host_api *host, wharf_context *ctx, void **out_instance) {
    (void)ctx;
    aborts_host = host;
    *out_instance = NULL;
    return WHARF_OK;
}

static wharf_status aborts_ingest(void *instance, wharf_context *ctx) {
    (void)instance;
    aborts_host->log(ctx, WHARF_LOG_ERROR, "an invariant broke; aborting");
    fputs("fixture-aborts: invariant broken, calling abort()\n", stderr);
    abort();
}

static const wharf_plugin_descriptor descriptor = {
    .struct_size = sizeof(wharf_plugin_descriptor), .abi_major = WHARF_ABI_MAJOR, .abi_minor = WHARF_ABI_MINOR,
    .id = "fixture-aborts", .system_kind = "other", .version = "1.0.0",
    .description = "test fixture: calls abort() during ingest", .capabilities = WHARF_CAP_INGEST,
    .create = aborts_create, .destroy = fixture_destroy, .ingest = aborts_ingest,
};
FIXTURE_ENTRY(descriptor)
