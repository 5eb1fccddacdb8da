/* What the loader-test fixture plugins share: no-op operations and a descriptor built from the few fields each
 * fixture breaks. Each fixture is still its own shared library; only this header is common. */
#ifndef WHARF_FIXTURE_PLUGIN_H
#define WHARF_FIXTURE_PLUGIN_H
#include "wharf_plugin.h"

static inline wharf_status fixture_create(const wharf_host_api *host, wharf_context *ctx, void **out_instance) {
    (void)host;
    (void)ctx;
    *out_instance = NULL;
    return WHARF_OK;
}

static inline void fixture_destroy(void *instance) { (void)instance; }

static inline wharf_status fixture_ingest(void *instance, wharf_context *ctx) {
    (void)instance;
    (void)ctx;
    return WHARF_OK;
}

/* A descriptor of an ingest plugin, with the fields a fixture varies. */
#define FIXTURE_DESCRIPTOR(SIZE, MAJOR, ID, VERSION, DESCRIPTION, INGEST)                                           \
    {                                                                                                              \
        .struct_size = (SIZE), .abi_major = (MAJOR), .abi_minor = WHARF_ABI_MINOR, .id = (ID),                     \
        .system_kind = "other", .version = (VERSION), .description = (DESCRIPTION),                                \
        .capabilities = WHARF_CAP_INGEST, .create = fixture_create, .destroy = fixture_destroy, .ingest = (INGEST) \
    }

/* Defines the exported entry returning `DESCRIPTOR` (a static const wharf_plugin_descriptor). */
#define FIXTURE_ENTRY(DESCRIPTOR)                                                                                  \
    const wharf_plugin_descriptor *wharf_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,            \
                                                      const wharf_host_api *host) {                                \
        (void)host_abi_major;                                                                                      \
        (void)host_abi_minor;                                                                                      \
        (void)host;                                                                                                \
        return &(DESCRIPTOR);                                                                                      \
    }

#endif
