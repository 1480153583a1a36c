# pgflight: Flight SQL (gRPC) and /metrics /healthz /readyz on one port, 8080.
#
#   docker build -t pgflight .
#   docker run -p 8080:8080 -e POSTGRES_HOST=db.example.com -e POSTGRES_PORT=5432 \
#     -e POSTGRES_DATABASE=mydb -e POSTGRES_USERNAME=reader -e POSTGRES_PASSWORD=secret pgflight
#
# Configured by the seed's POSTGRES_* variables (and PGFLIGHT_<KEY> for every other key, e.g.
# PGFLIGHT_SSLMODE=verify-full); no configuration file is needed. To use one, mount it and
# pass `serve --config /etc/pgflight/flight.toml`. The HEALTHCHECK assumes the default
# listen = 0.0.0.0:8080. tests/clients/test_docker.py checks this stage's assumptions with
# the locally built binary (no Docker engine needed).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# Cargo.toml names the integration tests; an empty stand-in keeps `cargo build` happy without
# copying the test sources into the build context's layer.
RUN mkdir -p tests/it && echo 'fn main() {}' > tests/it/main.rs \
 && cargo build --release --locked --bin pgflight \
 && strip target/release/pgflight

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin pgflight
COPY --from=build /src/target/release/pgflight /usr/local/bin/pgflight
USER 10001
WORKDIR /
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["pgflight"]
CMD ["serve"]
