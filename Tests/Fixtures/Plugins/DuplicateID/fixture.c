/* Loader test fixture "DuplicateID": a valid plugin that reuses the id of the real stock-csv plugin. */
#include "fixture_plugin.h"

static const wharf_plugin_descriptor descriptor = FIXTURE_DESCRIPTOR(
    sizeof(wharf_plugin_descriptor), WHARF_ABI_MAJOR, "stock-csv", "9.9.9",
    "Loader test fixture: a valid plugin that reuses the id of the real stock-csv plugin, to test duplicate installs and upgrades.",
    fixture_ingest);

FIXTURE_ENTRY(descriptor)
