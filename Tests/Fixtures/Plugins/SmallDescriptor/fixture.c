/* Loader test fixture "SmallDescriptor": a descriptor whose struct_size (16) is below WHARF_PLUGIN_DESCRIPTOR_MIN_SIZE. */
#include "wharf_plugin.h"

static wharf_status fixture_create(const wharf_host_api *host, wharf_context *ctx, void **out_instance) {
    (void)host;
    (void)ctx;
    *out_instance = NULL;
    return WHARF_OK;
}

static void fixture_destroy(void *instance) { (void)instance; }

static wharf_status fixture_ingest(void *instance, wharf_context *ctx) {
    (void)instance;
    (void)ctx;
    return WHARF_OK;
}

static const wharf_plugin_descriptor descriptor = {
    .struct_size = 16,
    .abi_major = WHARF_ABI_MAJOR,
    .abi_minor = WHARF_ABI_MINOR,
    .id = "fixture-small-descriptor",
    .system_kind = "other",
    .version = "1.0.0",
    .description = "Loader test fixture: a descriptor whose struct_size (16) is below WHARF_PLUGIN_DESCRIPTOR_MIN_SIZE.",
    .capabilities = WHARF_CAP_INGEST,
    .create = fixture_create,
    .destroy = fixture_destroy,
    .ingest = fixture_ingest,
};

const wharf_plugin_descriptor *wharf_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                                  const wharf_host_api *host) {
    (void)host_abi_major;
    (void)host_abi_minor;
    (void)host;
    return &descriptor;
}
