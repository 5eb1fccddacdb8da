#ifndef WHARF_CZLIB_SHIM_H
#define WHARF_CZLIB_SHIM_H
#include <zlib.h>
#endif
