int fixture_Refuses(void) { return 0; }
