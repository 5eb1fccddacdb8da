/* Loader test fixture "SmallDescriptor": a descriptor whose struct_size is below the ABI 1.0 minimum. */
#include "fixture_plugin.h"

static const wharf_plugin_descriptor descriptor = FIXTURE_DESCRIPTOR(
    16, WHARF_ABI_MAJOR, "fixture-small-descriptor", "1.0.0",
    "Loader test fixture: a descriptor whose struct_size (16) is below WHARF_PLUGIN_DESCRIPTOR_MIN_SIZE.", fixture_ingest);

FIXTURE_ENTRY(descriptor)
