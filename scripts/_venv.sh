# Sourced by ./bastion and scripts/test: create or reuse the project-local virtual
# environment in .venv and make sure the package and its dev tools are installed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.bastion-installed"
pick_python() {
    for c in python3 python3.11 python3.12 python3.13; do
        if command -v "$c" >/dev/null 2>&1 \
            && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$c"; return 0
        fi
    done
    echo "bastion: Python 3.11 or newer is required" >&2; return 1
}
if [ ! -x "$venv/bin/python" ]; then
    "$(pick_python)" -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
    echo "bastion: installing into $venv (first run only)…" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root[dev]" >&2
    touch "$stamp"
fi
