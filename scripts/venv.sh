# Sourced by quickstart.sh and test.sh: make ./.venv with the project installed.
# On a fresh Debian, `python3 -m venv` needs python3-venv: installed here when we are root.
make_venv() {
    extras="$1"
    if [ ! -x .venv/bin/python ]; then
        if ! python3 -m venv .venv >/dev/null 2>&1; then
            rm -rf .venv
            if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
                echo "venv: installing python3-venv (Debian)"
                (apt-get install -y -qq python3-venv >/dev/null 2>&1 \
                    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq python3-venv >/dev/null 2>&1; })
            fi
            python3 -m venv .venv || { echo "venv: cannot create .venv (install python3-venv)"; exit 2; }
        fi
    fi
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extras" \
        || { echo "venv: pip install failed"; exit 2; }
}
