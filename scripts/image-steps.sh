#!/usr/bin/env bash
# The runtime image's install steps, in one place: the Dockerfile RUNs this
# script in its runtime stage, and scripts/check-image-steps.sh runs the same
# script on a CI host (where no Docker engine runs) to prove the steps work.
#
#   image-steps.sh [--root DIR] install   Debian's chromium-headless-shell,
#                                         CJK fonts, CA certificates, tini
#   image-steps.sh [--root DIR] user      the unprivileged user 10001
#   image-steps.sh [--root DIR] all       both (what the image does)
#   image-steps.sh verify                 check that a runtime has everything
#
# --root DIR writes the user into DIR/etc/{passwd,group,shadow} instead of
# the system's (useradd --prefix): the CI host's own users stay untouched.
# Every step is idempotent: packages already installed are not fetched again.
set -euo pipefail

readonly UID_GID=10001
readonly USER_NAME=beian
readonly PACKAGES=(chromium-headless-shell fonts-noto-cjk ca-certificates tini)
readonly CHROME=/usr/lib/chromium/chromium-headless-shell

root=""
if [ "${1:-}" = "--root" ]; then
  root=${2:?--root needs a directory}
  shift 2
fi
step=${1:-all}

install_packages() {
  local missing=()
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "image-steps: packages already installed: ${PACKAGES[*]}" >&2
    return
  fi
  echo "image-steps: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  # Only in an image build: the package lists are dead weight there.
  if [ "${IMAGE_BUILD:-0}" = 1 ]; then
    apt-get clean
    rm -rf /var/lib/apt/lists/*
  fi
}

create_user() {
  local prefix=()
  if [ -n "$root" ]; then
    mkdir -p "$root/etc"
    # useradd --prefix edits the files under DIR/etc; seed them from a
    # minimal base so the result is what a fresh image would get.
    for f in passwd group shadow gshadow; do
      [ -e "$root/etc/$f" ] || grep -E '^(root|nogroup|nobody):' "/etc/$f" >"$root/etc/$f" 2>/dev/null || : >"$root/etc/$f"
    done
    [ -e "$root/etc/login.defs" ] || cp /etc/login.defs "$root/etc/login.defs"
    prefix=(--prefix "$root")
  fi
  local passwd="${root}/etc/passwd"
  if grep -q "^[^:]*:[^:]*:${UID_GID}:" "$passwd"; then
    echo "image-steps: uid ${UID_GID} already exists in ${passwd}" >&2
    return
  fi
  groupadd "${prefix[@]}" --gid "$UID_GID" "$USER_NAME"
  # HOME is /tmp: with a read-only root filesystem, /tmp (an emptyDir) is the
  # only writable place; Chromium profiles are temp dirs under TMPDIR.
  useradd "${prefix[@]}" --uid "$UID_GID" --gid "$UID_GID" --no-create-home \
    --home-dir /tmp --shell /usr/sbin/nologin "$USER_NAME"
  echo "image-steps: created ${USER_NAME} (${UID_GID}:${UID_GID}) in ${passwd}" >&2
}

verify() {
  local ok=1
  [ -x "$CHROME" ] || { echo "image-steps: missing $CHROME" >&2; ok=0; }
  command -v tini >/dev/null || { echo "image-steps: missing tini" >&2; ok=0; }
  [ -s /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || { echo "image-steps: missing Noto CJK fonts" >&2; ok=0; }
  [ -s /etc/ssl/certs/ca-certificates.crt ] || { echo "image-steps: missing CA certificates" >&2; ok=0; }
  [ "$ok" = 1 ] && echo "image-steps: runtime complete" >&2
  [ "$ok" = 1 ]
}

case "$step" in
  install) install_packages ;;
  user) create_user ;;
  all) install_packages; create_user ;;
  verify) verify ;;
  *) echo "usage: $0 [--root DIR] install|user|all|verify" >&2; exit 2 ;;
esac
