int fixture_NoEntry(void) { return 0; }
