/* The fixtures share fixture_plugin.h; this file gives SwiftPM a source to build for the target. */
#include "fixture_plugin.h"
