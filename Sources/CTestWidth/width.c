// How many tests `swift test` runs at once: four per core, unless SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH
// is already set.
//
// Swift Testing starts every test at once by default. Serin's tests start gateways, Prometheus, Chromium and
// serin processes on real sockets; on a 2-core machine some 300 of them starting together left the test process's
// tasks waiting up to 15 seconds for a thread (measured with a 10 ms sleep beside a full run), longer than the
// deadlines the code under test keeps (a gateway drops a request head that takes 10 s). Four tests per core keep
// that wait under half a second, for about 40 s more wall time on two cores.
//
// Swift Testing reads the variable when it starts, before any test code runs; a constructor in the test bundle
// runs before that.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void serin_cap_test_width(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    char width[32];
    snprintf(width, sizeof width, "%ld", cores * 4);
    setenv("SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH", width, 0);
}
