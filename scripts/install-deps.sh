#!/usr/bin/env bash
# Install what beian-audit needs to run and test on a fresh Debian 12 machine:
# Debian's Chromium (full and headless shell) and CJK fonts (layout, and so
# visibility and position of Chinese footers, depend on real glyphs).
# Does nothing when everything is already there.
set -euo pipefail

need=()
[ -x /usr/lib/chromium/chromium-headless-shell ] || need+=(chromium-headless-shell)
[ -x /usr/lib/chromium/chromium ] || need+=(chromium)
fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || need+=(fonts-noto-cjk)
command -v curl >/dev/null || need+=(curl)
# The network-namespace test: unshare (util-linux), ip (iproute2), strace.
command -v unshare >/dev/null || need+=(util-linux)
command -v ip >/dev/null || need+=(iproute2)
command -v strace >/dev/null || need+=(strace)

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
