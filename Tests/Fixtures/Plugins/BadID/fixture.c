int fixture_BadID(void) { return 0; }
