/* Loader test fixture "NoEntry": a shared library that exports a function, but not wharf_plugin_entry. */
#include "wharf_plugin.h"

/* A near miss of the real name, as a typo or a mangled Swift name would be. */
__attribute__((visibility("default"))) const wharf_plugin_descriptor *wharf_plugin_entry_v0(void) { return NULL; }
