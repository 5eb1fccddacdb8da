/* The ABI is a header. This file exists so that SwiftPM has a C target to build, and checks at compile time that
 * the layout facts the header promises hold on this platform. */
#include "wharf_plugin.h"

_Static_assert(offsetof(wharf_plugin_descriptor, struct_size) == 0, "struct_size must come first");
_Static_assert(offsetof(wharf_host_api, struct_size) == 0, "struct_size must come first");
_Static_assert(WHARF_PLUGIN_DESCRIPTOR_MIN_SIZE == sizeof(wharf_plugin_descriptor),
               "ABI 1.0 descriptor size changed: append only, and keep MIN_SIZE at the 1.0 size");
