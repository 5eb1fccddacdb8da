/* Loader test fixture "MissingOperation": declares WHARF_CAP_INGEST but leaves ingest NULL. */
#include "wharf_plugin.h"

static wharf_status fixture_create(const wharf_host_api *host, wharf_context *ctx, void **out_instance) {
    (void)host;
    (void)ctx;
    *out_instance = NULL;
    return WHARF_OK;
}

static void fixture_destroy(void *instance) { (void)instance; }

static const wharf_plugin_descriptor descriptor = {
    .struct_size = sizeof(wharf_plugin_descriptor),
    .abi_major = WHARF_ABI_MAJOR,
    .abi_minor = WHARF_ABI_MINOR,
    .id = "fixture-missing-operation",
    .system_kind = "other",
    .version = "1.0.0",
    .description = "Loader test fixture: declares WHARF_CAP_INGEST but leaves ingest NULL.",
    .capabilities = WHARF_CAP_INGEST,
    .create = fixture_create,
    .destroy = fixture_destroy,
    .ingest = NULL,
};

const wharf_plugin_descriptor *wharf_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                                  const wharf_host_api *host) {
    (void)host_abi_major;
    (void)host_abi_minor;
    (void)host;
    return &descriptor;
}
