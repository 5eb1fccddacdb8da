int fixture_MissingOperation(void) { return 0; }
