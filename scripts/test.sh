#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, then runs them.
# README.md names this command; .ci/run calls it after the format and lint checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the end-to-end tests start as real peers, as "command:package" pairs.
# Installed only when missing, so a developer machine pays nothing after the first run.
NEEDED_PACKAGES=("sipp:sip-tester" "dnsmasq:dnsmasq-base" "stunnel:stunnel4" "node:nodejs" "npm:npm" "chromium:chromium")
missing=()
for pair in "${NEEDED_PACKAGES[@]}"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# playwright-core drives Debian's chromium in tests/browser_e2e.rs (no browser download).
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  npm ci --prefix tests/browser --no-audit --no-fund
fi

cargo test --workspace --locked "$@"

# The browser SDK's own unit tests (node's built-in test runner, no npm packages).
node --test interworking-stub/web/tests/
