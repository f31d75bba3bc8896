#!/usr/bin/env bash
# Makes sure a headless Chromium is available for the browser test (test/integration/ui.test.ts).
# Browser downloads (playwright install) do not work on these machines: use Debian's `chromium` package,
# installed only when /usr/bin/chromium is absent. Prints the executable path on stdout.
set -euo pipefail
chromium="${FLOWGUARD_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$chromium" ]; then echo "$chromium"; exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; else
    echo "ensure-browser: $chromium is missing; install it with 'sudo apt-get install -y chromium' (or set FLOWGUARD_CHROMIUM)" >&2
    exit 1
  fi
else SUDO=""; fi
command -v apt-get >/dev/null 2>&1 || {
  echo "ensure-browser: $chromium is missing and there is no apt-get; install Chromium and set FLOWGUARD_CHROMIUM" >&2
  exit 1
}
echo "ensure-browser: installing Debian's chromium package (first run only)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2 || true
$SUDO apt-get install -y -qq --no-install-recommends chromium >&2
[ -x "$chromium" ] || { echo "ensure-browser: chromium installed but $chromium is not executable" >&2; exit 1; }
echo "$chromium"
