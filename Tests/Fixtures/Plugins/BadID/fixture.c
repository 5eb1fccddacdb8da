/* Loader test fixture "BadID": a descriptor whose id breaks the id rule. */
#include "fixture_plugin.h"

static const wharf_plugin_descriptor descriptor = FIXTURE_DESCRIPTOR(
    sizeof(wharf_plugin_descriptor), WHARF_ABI_MAJOR, "Bad ID!", "1.0.0",
    "Loader test fixture: a descriptor whose id breaks the id rule.", fixture_ingest);

FIXTURE_ENTRY(descriptor)
