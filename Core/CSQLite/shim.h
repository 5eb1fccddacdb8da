#ifndef WHARF_CSQLITE_SHIM_H
#define WHARF_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
