/* FixtureSmallDescriptor — a plugin fixture for the loader tests (see fixture.c); its only
 * interface is the ABI in wharf_plugin.h.
 * This header exists because SwiftPM requires a C target's include folder and git keeps no empty folders. */
#ifndef FIXTURE_SMALL_DESCRIPTOR_H
#define FIXTURE_SMALL_DESCRIPTOR_H
#include "wharf_plugin.h"
#endif
