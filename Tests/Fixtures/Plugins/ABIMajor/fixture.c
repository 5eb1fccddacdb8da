int fixture_ABIMajor(void) { return 0; }
