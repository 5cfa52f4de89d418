#!/usr/bin/env bash
# Installs the real Kafka clients that the compatibility suite (npm run test:compat) drives,
# from Debian's packages:
#   kcat                      kcat 1.7.1 on librdkafka 2.0.2
#   python3-kafka             kafka-python 2.0.2
#   python3-confluent-kafka   confluent-kafka-python 1.7.0 on librdkafka 2.0.2
#   python3-snappy python3-lz4 python3-zstandard
#                             the modules kafka-python needs for snappy, lz4 and zstd
# The Python packages install into Debian's interpreter, /usr/bin/python3, which the suite
# calls explicitly. Idempotent and non-interactive: it installs only what is missing (after an
# apt-get update) and does nothing when everything is there.
set -euo pipefail

PACKAGES=(kcat python3-kafka python3-confluent-kafka python3-snappy python3-lz4 python3-zstandard)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "test clients: all installed (${PACKAGES[*]})"
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-test-clients: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  as_root=(sudo -n)
fi
export DEBIAN_FRONTEND=noninteractive
echo "test clients: installing ${missing[*]}"
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "test clients: installed"
