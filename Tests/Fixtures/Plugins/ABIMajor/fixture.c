/* Loader test fixture "ABIMajor": a descriptor that claims ABI major 99, which the host must refuse. */
#include "fixture_plugin.h"

static const wharf_plugin_descriptor descriptor = FIXTURE_DESCRIPTOR(
    sizeof(wharf_plugin_descriptor), 99, "fixture-abi-major", "1.0.0",
    "Loader test fixture: a descriptor that claims ABI major 99, which the host must refuse.", fixture_ingest);

FIXTURE_ENTRY(descriptor)
