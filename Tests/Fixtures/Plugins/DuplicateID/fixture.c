int fixture_DuplicateID(void) { return 0; }
