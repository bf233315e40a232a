# Sourced by scripts/test: the Debian packages the test suite needs (a browser, a database server).
# Installed with apt-get when missing and running as root; otherwise the missing ones are named and
# the run stops, because a test that skips for want of its server is not a passing test.
# Each line: <command or file (a glob may stand for a version) that proves the package is there> <Debian package>.
SYSTEM_PACKAGES=(
    "/usr/bin/chromium chromium"  # the HTML report's browser tests (tests/history/test_report_browser.py)
    "mount mount"  # tests/reliability mounts a small tmpfs for the full-disk and read-only cases
    "/usr/lib/postgresql/*/bin/postgres postgresql"  # the shared metrics store and Dagster instance tests (tests/pg_server.py)
)

ensure_system_packages() {
    local missing=() entry probe package
    for entry in "${SYSTEM_PACKAGES[@]}"; do
        probe=${entry% *}; package=${entry##* }
        command -v "$probe" >/dev/null 2>&1 || [ -x "$probe" ] || compgen -G "$probe" >/dev/null || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "the tests need these Debian packages: ${missing[*]}; install them (sudo apt-get install ${missing[*]}) or run as root" >&2
        exit 1
    fi
    echo "installing Debian packages the tests need: ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
