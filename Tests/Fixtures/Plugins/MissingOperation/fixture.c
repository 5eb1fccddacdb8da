/* Loader test fixture "MissingOperation": declares WHARF_CAP_INGEST but leaves ingest NULL. */
#include "fixture_plugin.h"

static const wharf_plugin_descriptor descriptor = FIXTURE_DESCRIPTOR(
    sizeof(wharf_plugin_descriptor), WHARF_ABI_MAJOR, "fixture-missing-operation", "1.0.0",
    "Loader test fixture: declares WHARF_CAP_INGEST but leaves ingest NULL.", NULL);

FIXTURE_ENTRY(descriptor)
