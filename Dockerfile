# The gateway's image: a static binary and the CA certificates on an empty
# base, run as a numeric non-root user. `make image` builds it
# (VERSION=v1.2.3 make image stamps the version).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/pushscale/pushscale/version.Version=${VERSION}" \
      -o /out/pushscale ./cmd/pushscale

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/pushscale /pushscale
USER 65532:65532
ENTRYPOINT ["/pushscale"]
