# tedee2mqtt container image: a static binary on distroless, running as non-root.
#
#   docker build -t tedee2mqtt --build-arg VERSION=1.2.3 --build-arg COMMIT=$(git rev-parse HEAD) .
#   docker buildx build --platform linux/amd64,linux/arm64,linux/arm/v7 -t REGISTRY/tedee2mqtt:1.2.3 --push .
#
# Needs BuildKit (the default builder since Docker 23). The build stage runs on the build
# machine's platform and cross-compiles for the target, so multi-arch builds need no emulation.
# cmd/tedee2mqtt/container_test.go checks the promises below (non-root, health check, static
# build, Go version in step with go.mod) and runs this file's go build line.

# Keep the tag in step with the go line of go.mod (the test checks major.minor).
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
ARG TARGETOS TARGETARCH TARGETVARIANT
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src
# Dependencies first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# GOARM comes from the platform's variant (linux/arm/v7 -> 7); other architectures have none.
RUN if [ "$TARGETARCH" = arm ] && [ -n "$TARGETVARIANT" ]; then export GOARM="${TARGETVARIANT#v}"; fi; \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" \
      -o /out/tedee2mqtt ./cmd/tedee2mqtt
# data_dir in the image: created here, since the final image has no shell, and handed to the
# service's user so that a named volume mounted on it starts writable.
RUN mkdir -p /out/data

# Static base: CA certificates, tzdata and /etc/passwd with "nonroot" (65532), no shell.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="tedee2mqtt" \
      org.opencontainers.image.description="Tedee smart locks on MQTT: Bridge webhooks to retained topics, with Home Assistant discovery" \
      org.opencontainers.image.source="https://github.com/tedee2mqtt/tedee2mqtt" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$COMMIT"
COPY --from=build /out/tedee2mqtt /tedee2mqtt
COPY --from=build --chown=65532:65532 /out/data /data
# state.json (and the embedded broker's store) live here: mount a volume to keep them across
# container replacements.
ENV TEDEE2MQTT_DATA_DIR=/data
VOLUME /data
# The base image's default is already nonroot; said explicitly so that no base change makes it root.
USER 65532:65532
# tedee2mqtt reads ./config.yaml when it exists, else runs on defaults and TEDEE2MQTT_* variables:
# mount a file at /config/config.yaml, or configure with the environment only.
WORKDIR /config
# 8080: webhooks, /healthz, /readyz, /metrics. 1883: the embedded broker, only when mqtt.url is
# empty and TEDEE2MQTT_MQTT_EMBEDDED_LISTEN=0.0.0.0:1883 (its default, 127.0.0.1, is unreachable
# from outside the container).
EXPOSE 8080 1883
ENTRYPOINT ["/tedee2mqtt"]
# No shell or curl here: the binary checks itself (GET /healthz on its configured listen address,
# read from the same config file and environment as the service).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s CMD ["/tedee2mqtt", "-healthcheck"]
