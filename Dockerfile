# Multi-stage build: compile with the Rust toolchain, run on a slim base as non-root.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin loxilb-coordinator \
    && strip target/release/loxilb-coordinator

FROM debian:bookworm-slim
# ca-certificates is left unpinned on purpose: Debian security updates replace the
# version in place, and a pinned version would stop the image from building.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/loxilb-coordinator --create-home loxilb-coordinator \
    && mkdir -p /run/loxilb-coordinator /etc/loxilb-coordinator /var/run/octavia \
    && chown loxilb-coordinator /run/loxilb-coordinator /var/lib/loxilb-coordinator
COPY --from=build /src/target/release/loxilb-coordinator /usr/local/bin/loxilb-coordinator
COPY config/loxilb-coordinator.toml /etc/loxilb-coordinator/loxilb-coordinator.toml
USER loxilb-coordinator
# The database; the ingress socket directory (share it with the Octavia API container);
# mount Octavia's driver agent socket directory at /var/run/octavia.
VOLUME ["/var/lib/loxilb-coordinator", "/run/loxilb-coordinator"]
ENV LOXILB_COORDINATOR_CONFIG=/etc/loxilb-coordinator/loxilb-coordinator.toml
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/loxilb-coordinator", "health"]
ENTRYPOINT ["/usr/local/bin/loxilb-coordinator"]
CMD ["run"]
