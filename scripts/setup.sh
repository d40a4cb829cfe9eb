#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine: system packages, the unprivileged service
# user (when run as root), the project virtualenv with dev extras, Patroni where the
# service user can execute it, and the Kafka jars (from Maven, once; later runs are offline).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  postgresql-15 postgresql-client-15 etcd-server etcd-client haproxy
  redis-server redis-sentinel python3-venv python3-dev wrk procps iproute2
  openjdk-17-jre-headless maven
  chromium  # the HTML report's test opens it headless
)
VENV=${GRACECTL_VENV:-.venv}
PATRONI_VENV=${GRACECTL_PATRONI_VENV:-/opt/gracectl/patroni}
SERVICE_USER=${GRACECTL_RUN_AS:-gracectl}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$(id -u)" = 0 ] && ! id "$SERVICE_USER" >/dev/null 2>&1; then
  echo "setup: creating system user $SERVICE_USER"
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$SERVICE_USER"
fi

# /usr/bin/python3 (Debian's 3.11) rather than a pyenv shim: a venv under /root is not
# executable by the service user.
PY=/usr/bin/python3
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --upgrade pip >/dev/null
"$VENV/bin/pip" install -q -e ".[dev,patroni]"

if [ "$(id -u)" = 0 ]; then
  if [ ! -x "$PATRONI_VENV/bin/patroni" ]; then
    echo "setup: installing Patroni into $PATRONI_VENV for user $SERVICE_USER"
    mkdir -p "$(dirname "$PATRONI_VENV")"
    "$PY" -m venv "$PATRONI_VENV"
    "$PATRONI_VENV/bin/pip" install -q --upgrade pip >/dev/null
    "$PATRONI_VENV/bin/pip" install -q "patroni[etcd3,psycopg3]>=4.0" "psycopg[binary]>=3.1"
    chmod -R a+rX "$PATRONI_VENV"
  fi
fi
# Kafka has no tarball to fetch here: Maven copies the broker, tools and a log4j2 binding
# from scripts/kafka/pom.xml into a directory the service user can read. Keep the default
# directory in step with gracectl/components/kafka.py (default_libs_dir).
KAFKA_POM=scripts/kafka/pom.xml
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")
if [ "$(id -u)" = 0 ]; then
  KAFKA_LIBS_DEFAULT=/opt/gracectl/kafka/$KAFKA_VERSION/libs
else
  KAFKA_LIBS_DEFAULT=${XDG_CACHE_HOME:-$HOME/.cache}/gracectl/kafka/$KAFKA_VERSION/libs
fi
KAFKA_LIBS=${GRACECTL_KAFKA__LIBS_DIR:-$KAFKA_LIBS_DEFAULT}
if ! ls "$KAFKA_LIBS"/kafka_2.13-*.jar >/dev/null 2>&1; then
  echo "setup: fetching Kafka $KAFKA_VERSION jars into $KAFKA_LIBS"
  mkdir -p "$(dirname "$KAFKA_LIBS")"
  staging=$(mktemp -d "$(dirname "$KAFKA_LIBS")/.libs.XXXXXX")
  mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$staging"
  chmod -R a+rX "$staging"
  rm -rf "$KAFKA_LIBS"
  mv "$staging" "$KAFKA_LIBS"
  chmod a+rx "$(dirname "$KAFKA_LIBS")"
fi

echo "setup: done ($("$VENV/bin/gracectl" --version))"
