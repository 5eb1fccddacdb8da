#ifndef WHARF_CSYSTEM_H
#define WHARF_CSYSTEM_H
/* Small shims over Linux system calls that Swift cannot import cleanly (packed structs, variadic calls). */
#include <stdint.h>
int wharf_system_placeholder(void);
#endif
