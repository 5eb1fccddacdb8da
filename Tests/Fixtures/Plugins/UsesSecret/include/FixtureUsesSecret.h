/* FixtureUsesSecret — see fixture.c. SwiftPM needs a C target's include folder; git keeps no empty folders. */
#include "fixture_plugin.h"
