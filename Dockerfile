# serin in a slim image: `docker build -t serin .`, then deploy/kubernetes/ runs `serin controller` from it.
#
# Build stage: the Swift toolchain compiles the release binary with the Swift runtime linked in statically.
FROM swift:6.3-noble AS build
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Plugins ./Plugins
COPY docs/openapi.json ./docs/openapi.json
COPY examples ./examples
COPY Tests ./Tests
COPY scripts/release ./scripts/release
# The release flags, the benchmarks' too, are in scripts/release/flags.sh, which says what each is for. Run outside
# Docker (Debian 12, Swift 6.3.1), this command gives a binary that links only libc, libm, libstdc++, libgcc_s, zlib
# and SQLite; stripped, 79 MB instead of 148.
RUN swift build $(scripts/release/flags.sh) --product serin \
    && cp "$(swift build $(scripts/release/flags.sh) --show-bin-path)/serin" /usr/local/bin/serin \
    && strip /usr/local/bin/serin

# Runtime stage: the binary and the libraries it links (SQLite for embedded mode's state file, libstdc++ and zlib
# for Foundation), CA certificates (the API server, webhooks), and a user that is not root.
FROM ubuntu:noble
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-0 libstdc++6 zlib1g ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 65532 --no-create-home --shell /usr/sbin/nologin serin
COPY --from=build /usr/local/bin/serin /usr/local/bin/serin
USER 65532
EXPOSE 9900
ENTRYPOINT ["/usr/local/bin/serin"]
CMD ["controller"]
