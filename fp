#!/usr/bin/env bash
# featurepipe launcher: builds the jar when it is missing or older than the sources, then runs it.
#   ./fp services up|down|status    ./fp run [--roles ...]    ./fp demo [--limit N] [--keep]    ./fp --help
set -euo pipefail
home="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
jar="$home/devtools/target/featurepipe-dev.jar"

if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
  echo "fp: needs a JDK 17+ and Maven on the PATH (Debian/Ubuntu: apt-get install -y openjdk-17-jdk-headless maven)" >&2
  exit 2
fi
if [ ! -f "$jar" ] || [ -n "$(find "$home/pom.xml" "$home"/*/pom.xml "$home"/*/src/main -newer "$jar" -print -quit)" ]; then
  echo "fp: building $(basename "$jar") ..." >&2
  (cd "$home" && mvn -B -q -DskipTests package) >&2
fi
exec java ${FP_JAVA_OPTS:--Xms512m -Xmx512m} -XX:+ExitOnOutOfMemoryError -Dfp.home="$home" -jar "$jar" "$@"
