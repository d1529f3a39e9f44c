# syntax=docker/dockerfile:1
#
# mailbridge as a static binary in a minimal image that runs as a non-root
# user. The binary embeds the time zone database (time/tzdata), so
# MAILBRIDGE_CMC_TIMEZONE works without zoneinfo files in the image.
#
#   docker build -t mailbridge --build-arg VERSION=$(git describe --always) .
#   docker run -p 8080:8080 -v mailbridge-data:/data mailbridge
#
# The default command is "serve" with the embedded NATS server. Any other
# part runs with its subcommand, such as "docker run mailbridge alerter";
# "docker run mailbridge help" lists the commands and variables.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/mailbridge ./cmd/mailbridge \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mailbridge /mailbridge
# The JetStream store of the embedded server. The directory must belong to
# the nonroot user (65532) before the volume is first mounted, so that a
# new named volume inherits that owner.
COPY --from=build --chown=65532:65532 /out/data /data
ENV MAILBRIDGE_DATA_DIR=/data
VOLUME ["/data"]
USER 65532:65532
# 8080 is the webhook ingress, /healthz, /readyz and /metrics. 4222 is the
# embedded NATS server, which listens on 127.0.0.1 inside the container
# unless MAILBRIDGE_EMBEDDED_NATS_ADDR=0.0.0.0:4222 opens it to other
# containers.
EXPOSE 8080 4222
ENTRYPOINT ["/mailbridge"]
CMD ["serve"]
