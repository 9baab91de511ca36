#!/usr/bin/env bash
# The flags of every release build of Serin, one a line: the Dockerfile's, and the benchmarks' (scripts/bench-gateway.sh
# and the scripts that share its build), so what is measured is what ships:
#   swift build $(scripts/release/flags.sh) --product serin
#
# - The Swift runtime linked in (--static-swift-stdlib): the binary needs no Swift installation.
# - Runtime exclusivity checks off in every module (debug builds and the tests keep them on): about a tenth of the
#   gateway's user-space CPU per request.
# - Each function in a section of its own, and the linker (gold) lays out first the functions that
#   hot-functions.txt beside this file lists, hottest first: the code every HTTP/1 request runs through then lies on
#   69 pages of 4 KiB instead of 167, and misses the instruction cache 7-11% less often (scripts/instructions-gateway.sh;
#   README, "The code a cold request runs through"). A name the build no longer has is passed over, and a function
#   added since is laid out as compiled, so a stale list costs nothing but part of its benefit: make it anew after
#   a change to the HTTP/1 path. The compiler's incremental code generation is off: it keeps an object file whose
#   code is unchanged even when the flags that lay it out have changed, which left a build made over an older one
#   with half its functions in one section. To make the list anew:
#     OUT=/tmp/counts PROXIES=serin scripts/instructions-gateway.sh
#     python3 scripts/bench/callgrind_counts.py order 20000 /tmp/counts/serin.*.out.* > scripts/release/hot-functions.txt
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
printf '%s\n' -c release --static-swift-stdlib \
    -Xswiftc -enforce-exclusivity=unchecked \
    -Xswiftc -Xfrontend -Xswiftc -function-sections -Xswiftc -Xfrontend -Xswiftc -disable-incremental-llvm-codegen \
    -Xcc -ffunction-sections \
    -Xlinker "--section-ordering-file=$here/hot-functions.txt"
