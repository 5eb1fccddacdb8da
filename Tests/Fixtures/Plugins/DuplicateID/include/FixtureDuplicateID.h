/* FixtureDuplicateID — a plugin fixture for the loader tests (see fixture.c); its only
 * interface is the ABI in wharf_plugin.h.
 * This header exists because SwiftPM requires a C target's include folder and git keeps no empty folders. */
#ifndef FIXTURE_DUPLICATE_ID_H
#define FIXTURE_DUPLICATE_ID_H
#include "wharf_plugin.h"
#endif
