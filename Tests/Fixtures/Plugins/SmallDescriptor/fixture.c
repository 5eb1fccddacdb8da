int fixture_SmallDescriptor(void) { return 0; }
