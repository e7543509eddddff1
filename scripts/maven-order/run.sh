#!/bin/sh
# Compiles MavenOrder.java against Maven's maven-artifact jar into a temporary directory
# and runs it: ./run.sh [pairs|chain|canonical|tokens|check|sort|info] < input
# MAVEN_ARTIFACT_JAR overrides the jar (default: Debian's maven package, Maven 3.8.7).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
jar=${MAVEN_ARTIFACT_JAR:-/usr/share/maven/lib/maven-artifact-3.x.jar}
if [ ! -r "$jar" ]; then
    echo "run.sh: cannot read $jar (install Debian's maven package or set MAVEN_ARTIFACT_JAR)" >&2
    exit 2
fi

classes=$(mktemp -d "${TMPDIR:-/tmp}/maven-order.XXXXXX")
trap 'rm -rf "$classes"' EXIT HUP INT TERM

javac -encoding UTF-8 -nowarn -d "$classes" -cp "$jar" "$here/MavenOrder.java"
# Not exec: the EXIT trap must still remove the class directory.
java -Dfile.encoding=UTF-8 -cp "$classes:$jar" MavenOrder "$@"
