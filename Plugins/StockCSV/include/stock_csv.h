/* stock-csv — a connector plugin in plain C. Its only interface is the one symbol every plugin exports,
 * `wharf_plugin_entry`, declared in wharf_plugin.h; nothing else is public. This header exists because SwiftPM
 * requires a C target's include folder and git keeps no empty folders. */
#ifndef STOCK_CSV_H
#define STOCK_CSV_H
#include "wharf_plugin.h"
#endif
