#!/usr/bin/env bash
# Installs everything musicrfm needs on a fresh Debian machine into a virtual environment (default .venv).
# Idempotent: a second run only checks what is there.
set -euo pipefail
venv="${1:-.venv}"
root="$(cd "$(dirname "$0")/.." && pwd)"

apt_packages=(libfluidsynth3 chromium)
missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        echo "install.sh: please install these Debian packages: ${missing[*]}" >&2
    fi
fi

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
# The CPU wheel first: every later requirement on torch is a range it satisfies.
"$venv/bin/python" -c "import torch" 2>/dev/null || "${pip[@]}" "torch==2.13.0"
"${pip[@]}" -e "$root[all]"
# Transcription metrics: basic-pitch ships an ONNX model but declares TensorFlow; skip its declared deps.
"$venv/bin/python" -c "import basic_pitch" 2>/dev/null || "${pip[@]}" --no-deps "basic-pitch==0.4.0"
touch "$venv/.installed"
