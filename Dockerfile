# The vanlink image, for builds with Docker (make image). `make image-archive`
# builds the same image without Docker, as an OCI archive.
#
# The final stage starts from scratch: a static binary needs no base image, so
# there is no base to pin or patch; the non-root user (65532) and its home are
# created in the build stage, as the archive builder does.
ARG GO_VERSION=1.26
FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/vanlink/vanlink/pkg/version.Version=${VERSION}" -o /out/vanlink ./cmd/vanlink \
 && mkdir -p /out/etc /out/home/nonroot /out/tmp \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > /out/etc/passwd \
 && printf 'root:x:0:\nnonroot:x:65532:\n' > /out/etc/group \
 && chown 65532:65532 /out/home/nonroot && chmod 1777 /out/tmp

FROM scratch
ARG VERSION=devel
LABEL org.opencontainers.image.title="vanlink" \
      org.opencontainers.image.description="Links a Kubernetes fleet into one Skupper network from the hub" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/vanlink/vanlink"
COPY --from=build /out/ /
USER 65532:65532
WORKDIR /home/nonroot
ENV HOME=/home/nonroot
ENTRYPOINT ["/vanlink"]
