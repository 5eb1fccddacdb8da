/* Crash-isolation fixture "HogsMemory": its ingest allocates and touches memory, 16 MiB at a time, never freeing
 * it and never checking for NULL, until it dies (under a memory limit: a failed malloc, then a write through NULL).
 *
 * Config: maxMB (optional, default 2048) — a safety stop so a run without a limit cannot eat the machine: past it the
 * plugin fails its run with a message instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fixture_plugin.h"

#define HOGS_CHUNK (16u << 20)

static const wharf_host_api *hogs_host;
static void *volatile hogs_kept; /* the chain of chunks: volatile, so the allocations cannot be optimised away */

static wharf_status hogs_create(const wharf_host_api *host, wharf_context *ctx, void **out_instance) {
    (void)ctx;
    hogs_host = host;
    *out_instance = NULL;
    return WHARF_OK;
}

static wharf_status hogs_ingest(void *instance, wharf_context *ctx) {
    (void)instance;
    const char *configured = hogs_host->config_string(ctx, "maxMB");
    long max_mb = configured != NULL ? atol(configured) : 2048;
    hogs_host->log(ctx, WHARF_LOG_INFO, "allocating until something gives");
    for (long used_mb = 0; used_mb < max_mb; used_mb += HOGS_CHUNK >> 20) {
        char *chunk = malloc(HOGS_CHUNK);
        memset(chunk, 1, HOGS_CHUNK); /* NULL once the limit is reached: SIGSEGV */
        *(void **)chunk = hogs_kept;
        hogs_kept = chunk;
    }
    char message[128];
    snprintf(message, sizeof message, "allocated %ld MB and was not stopped (maxMB)", max_mb);
    hogs_host->set_error(ctx, message);
    return WHARF_ERR_INTERNAL;
}

static const wharf_plugin_descriptor descriptor = {
    .struct_size = sizeof(wharf_plugin_descriptor), .abi_major = WHARF_ABI_MAJOR, .abi_minor = WHARF_ABI_MINOR,
    .id = "fixture-hogs-memory", .system_kind = "other", .version = "1.0.0",
    .description = "test fixture: allocates memory during ingest until it dies", .capabilities = WHARF_CAP_INGEST,
    .create = hogs_create, .destroy = fixture_destroy, .ingest = hogs_ingest,
};
FIXTURE_ENTRY(descriptor)
