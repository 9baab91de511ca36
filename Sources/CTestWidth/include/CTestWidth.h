// CTestWidth has no API: linking it into the test bundle caps how many tests run at once (see width.c).
