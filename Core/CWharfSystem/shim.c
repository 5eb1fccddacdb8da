#include "CWharfSystem.h"
int wharf_system_placeholder(void) { return 0; }
