#!/usr/bin/env bash
# Installs the benchmark baselines that the test suite does not need: fapolicyd and aide (Debian
# packages). The benchmark scripts source this. fapolicyd polices the whole machine when it runs, so
# its service is kept from starting (policy-rc.d) and disabled; bench/fapolicyd_bench.sh starts and
# stops its own instance.
install_baselines() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "bench: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  local had_policy=0
  [ -e /usr/sbin/policy-rc.d ] && had_policy=1
  [ $had_policy = 1 ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; }
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || true
  [ $had_policy = 1 ] || rm -f /usr/sbin/policy-rc.d
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now fapolicyd >/dev/null 2>&1 || true
  fi
}
