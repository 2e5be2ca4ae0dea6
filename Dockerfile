# Multi-stage build: compile with the Rust toolchain, run on a slim base as non-root.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin loxilb-coordinator

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/loxilb-coordinator --create-home loxilb-coordinator \
    && mkdir -p /run/loxilb-coordinator /etc/loxilb-coordinator \
    && chown loxilb-coordinator /run/loxilb-coordinator
COPY --from=build /src/target/release/loxilb-coordinator /usr/local/bin/loxilb-coordinator
COPY config/loxilb-coordinator.toml /etc/loxilb-coordinator/loxilb-coordinator.toml
USER loxilb-coordinator
VOLUME ["/var/lib/loxilb-coordinator"]
ENV LOXILB_COORDINATOR_CONFIG=/etc/loxilb-coordinator/loxilb-coordinator.toml
ENTRYPOINT ["/usr/local/bin/loxilb-coordinator"]
CMD ["run"]
