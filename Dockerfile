# Build the gateway, then run it from a slim image with its configuration.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin eidgw

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /var/lib/eidgw eidgw \
    && mkdir -p /var/lib/eidgw /var/lib/eidgw-keys && chown eidgw /var/lib/eidgw /var/lib/eidgw-keys
COPY --from=build /src/target/release/eidgw /usr/local/bin/eidgw
COPY config /etc/eidgw/config
WORKDIR /var/lib/eidgw
ENV EIDGW_CONFIG_DIR=/etc/eidgw/config \
    EIDGW__RELYING_PARTIES__FILE=/etc/eidgw/config/relying_parties.toml
USER eidgw
EXPOSE 8080
ENTRYPOINT ["eidgw"]
CMD ["serve"]
