# Sourced by scripts/demo and scripts/test. `bootstrap_venv [EXTRAS]` creates or updates the
# project's virtual environment in .venv with the given extras (none for the demo, `dev` for the
# tests). Needs only Python >= 3.11 (python3 on PATH, or $PYTHON).
bootstrap_venv() {
    local python=${PYTHON:-python3}
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "pytest-sbir-validate needs Python >= 3.11; $python is $("$python" --version 2>&1 || echo missing)" >&2
        exit 1
    fi
    [ -x .venv/bin/python ] || "$python" -m venv .venv
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${1:+[$1]}"
}
