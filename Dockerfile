# syntax=docker/dockerfile:1
# beian-audit worker image: a static-ish Rust binary on Debian 12 with
# Debian's Chromium headless shell, CJK fonts (layout and so visibility of
# Chinese footers depend on real glyphs), CA certificates and tini as PID 1.
#
#   docker build -t beian-audit .
#   docker run --rm --read-only --tmpfs /tmp --shm-size=1g \
#     -v "$PWD:/work" beian-audit scan /work/records.csv -o /work/out.ndjson
#
# Runs as uid 10001 and works with a read-only root filesystem: HOME and
# TMPDIR are /tmp (mount an emptyDir/tmpfs there); every Chromium profile
# is a temp dir under TMPDIR, removed when its browser closes. The runtime
# steps live in scripts/image-steps.sh, which CI runs on its host
# (scripts/check-image-steps.sh) since no Docker engine runs there. Only
# the product package is built: the test tools beside it (tools/) are not.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p beian-audit --bin beian-audit \
 && install -m 0755 target/release/beian-audit /usr/local/bin/beian-audit

FROM debian:bookworm-slim
COPY scripts/image-steps.sh /usr/local/lib/beian-audit/image-steps.sh
RUN IMAGE_BUILD=1 /usr/local/lib/beian-audit/image-steps.sh all \
 && /usr/local/lib/beian-audit/image-steps.sh verify
COPY --from=build /usr/local/bin/beian-audit /usr/local/bin/beian-audit
ENV HOME=/tmp \
    TMPDIR=/tmp \
    CHROME=/usr/lib/chromium/chromium-headless-shell
USER 10001:10001
WORKDIR /tmp
# tini reaps Chromium's helper processes and forwards SIGTERM, so --grace
# (in-flight targets finish, then exit 130 for --resume) works in a pod.
ENTRYPOINT ["tini", "--", "beian-audit"]
CMD ["--help"]
