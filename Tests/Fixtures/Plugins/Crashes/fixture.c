/* Crash-isolation fixture "Crashes": emits one batch of two products (committed), logs, then segfaults in the
 * middle of its ingest. The run must fail with SIGSEGV recorded, and the batch must stay committed. */
#include "fixture_plugin.h"

static const wharf_host_api *crashes_host;

static wharf_status crashes_create(const wharf_host_api *host, wharf_context *ctx, void **out_instance) {
    (void)ctx;
    crashes_host = host;
    *out_instance = NULL;
    return WHARF_OK;
}

static wharf_status crashes_ingest(void *instance, wharf_context *ctx) {
    (void)instance;
    wharf_field first[] = {{"sku", "CRASH-1", 7}, {"name", "Crash one", 9}};
    wharf_field second[] = {{"sku", "CRASH-2", 7}, {"name", "Crash two", 9}};
    wharf_record records[2] = {
        {.struct_size = sizeof(wharf_record), .field_count = 2, .entity = "product", .fields = first},
        {.struct_size = sizeof(wharf_record), .field_count = 2, .entity = "product", .fields = second},
    };
    wharf_emit_counts counts = {.struct_size = sizeof(wharf_emit_counts)};
    wharf_status status = crashes_host->emit(ctx, records, 2, "after-first-batch", &counts);
    if (status != WHARF_OK) return status;
    crashes_host->log(ctx, WHARF_LOG_INFO, "emitted one batch; crashing now");
    *(volatile int *)0 = 1; /* SIGSEGV: a write through a null pointer, kept by volatile */
    return WHARF_OK;
}

static const wharf_plugin_descriptor descriptor = {
    .struct_size = sizeof(wharf_plugin_descriptor), .abi_major = WHARF_ABI_MAJOR, .abi_minor = WHARF_ABI_MINOR,
    .id = "fixture-crashes", .system_kind = "other", .version = "1.0.0",
    .description = "test fixture: segfaults during ingest after one batch", .capabilities = WHARF_CAP_INGEST,
    .create = crashes_create, .destroy = fixture_destroy, .ingest = crashes_ingest,
};
FIXTURE_ENTRY(descriptor)
