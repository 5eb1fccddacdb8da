/* Placeholder until the crash-isolation fixture is written. */
#include "fixture_plugin.h"
static const wharf_plugin_descriptor descriptor = FIXTURE_DESCRIPTOR(sizeof(wharf_plugin_descriptor), WHARF_ABI_MAJOR, "fixture-aborts", "1.0.0", "placeholder", fixture_ingest);
FIXTURE_ENTRY(descriptor)
