#!/usr/bin/env python3
"""Generates the Maven ComparableVersion differential corpus.

    scripts/maven-order/generate.py [--output PATH] [--fixture PATH]

Builds a deterministic list of version pairs (fixed seed, no clock, no network), asks the
real org.apache.maven.artifact.versioning.ComparableVersion for every answer through
./run.sh (MavenOrder.java), and writes `A<TAB>OP<TAB>B` lines, grouped in sections that
each start with a `# == name ==` comment, under a `#` header naming the provenance.

Default output: crates/bulwark-version/tests/data/maven-comparable-version.txt.
The fixture file (default: shared/data/version-fixtures/maven-versions-generated.txt)
only contributes a sample of real-world version strings; its answers are not used.
"""

import argparse
import hashlib
import itertools
import os
import random
import shlex
import subprocess
import sys

SEED = 20240611
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RUN = os.path.join(HERE, "run.sh")
DEFAULT_OUTPUT = os.path.join(
    ROOT, "crates", "bulwark-version", "tests", "data", "maven-comparable-version.txt"
)
DEFAULT_FIXTURE = os.path.normpath(
    os.path.join(ROOT, "..", "shared", "data", "version-fixtures", "maven-versions-generated.txt")
)
DEFAULT_JAR = "/usr/share/maven/lib/maven-artifact-3.x.jar"


# --------------------------------------------------------------------------- oracle

def harness(mode, lines, allow_problems=False):
    """Runs MavenOrder in `mode` over `lines`; returns its stdout lines."""
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    proc = subprocess.run([RUN, mode], input=data, capture_output=True)
    if proc.returncode not in ((0, 1) if allow_problems else (0,)):
        sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
        raise SystemExit(f"run.sh {mode} failed with status {proc.returncode}")
    return proc.stdout.decode("utf-8").splitlines(), proc.stderr.decode("utf-8")


def real_ops(pairs):
    """The real answer for every (a, b), in order."""
    out, _ = harness("pairs", [f"{a}\t{b}" for a, b in pairs])
    if len(out) != len(pairs):
        raise SystemExit(f"harness answered {len(out)} of {len(pairs)} pairs")
    ops = []
    for (a, b), line in zip(pairs, out):
        left, op, right = line.split("\t")
        if (left, right) != (a, b) or op not in "<=>":
            raise SystemExit(f"harness garbled {a!r} vs {b!r}: {line!r}")
        ops.append(op)
    return ops


def real_sorted(versions):
    """The versions in the order the real comparator sorts them (insertion sort)."""
    out, _ = harness("sort", versions, allow_problems=True)
    if not out:
        return list(versions)
    order = [out[0].split("\t")[0]] + [line.split("\t")[2] for line in out]
    if sorted(order) != sorted(versions):
        raise SystemExit("harness sort lost versions")
    return order


# --------------------------------------------------------------------------- helpers

class Corpus:
    """Ordered sections of unordered pairs, each recorded once (except forced ones)."""

    def __init__(self):
        self.sections = []
        self.seen = set()

    def section(self, name):
        self.sections.append((name, []))

    def add(self, a, b, force=False):
        """Records (a, b) unless it (or (b, a)) is already recorded; `force` records it anyway."""
        for v in (a, b):
            if v == "" or any(c in v for c in "\t\r\n") or v != v.strip():
                raise ValueError(f"unusable version {v!r}")
        key = (a, b) if a <= b else (b, a)
        if a == b:
            key = (a, a)
        if key in self.seen and not force:
            return
        self.seen.add(key)
        self.sections[-1][1].append((a, b))

    def add_all(self, pairs, force=False):
        for a, b in pairs:
            self.add(a, b, force)

    def count(self):
        return sum(len(p) for _, p in self.sections)


def mixcase(rng, s):
    style = rng.randrange(5)
    if style == 0:
        return s.lower()
    if style == 1:
        return s.upper()
    if style == 2:
        return s[:1].upper() + s[1:].lower()
    if style == 3:
        return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in s)
    return s


def chain(versions):
    return list(zip(versions, versions[1:]))


# --------------------------------------------------------------------------- data

# Hand-written corner cases: (A, B) pairs; the oracle supplies the operator.
CURATED = {
    "dot-vs-hyphen-qualifier": [
        ("5.0.0.RC1", "5.0.0-RC1"), ("2.0.0.M1", "2.0.0-M1"), ("1.0.RC1", "1.0-RC1"),
        ("1.0.RC1", "1.0.0-RC1"), ("1.0.RC1", "1-RC1"), ("1.0.RC1", "1.0RC1"),
        ("1.0.RC2", "1.0-RC3"), ("1.0-RC3", "1.0.1"), ("1.0.RC1", "1.0"),
        ("1.0.RC.1", "1.0-RC-1"), ("1.0.RC.1", "1.0.RC1"), ("1.0.RC.1", "1.0-RC.1"),
        ("1.0.RC-1", "1.0-RC-1"), ("1.0-RC.1", "1.0-RC-1"), ("1.0.RC", "1.0-RC"),
        ("1.0.RC", "1.0"), ("1.0.RC", "1.0.RC.0"), ("1.0.RC.0.1", "1.0-RC-0-1"),
        ("1.0.Final", "1.0"), ("1.0.Final", "1.0-Final"), ("1.0.GA", "1.0"),
        ("1.0.GA", "1.0-ga"), ("1.0.GA", "1.0.Final"), ("1.0.RELEASE", "1.0"),
        ("1.0.Final.1", "1.0.1"), ("1.0.Final.1", "1.0-1"), ("1.0.GA.1", "1.0.0.1"),
        ("1.0-SP1", "1.0.sp"), ("1.0-SP1", "1.0.SP1"), ("1.0.sp", "1.0-sp"),
        ("1.0.sp", "1.0"), ("1.0.sp", "1.0.1"), ("1.0.sp", "1.0-1"), ("1.0-SP1", "1.0-SP2"),
        ("1.0-SP1", "1.0-1"), ("1.0.SP.1", "1.0-SP-1"), ("1.0.sp.1", "1.0.1"),
        ("1.0.M1", "1.0-M1"), ("1.0.M1", "1.0.m1"), ("1.0.M1", "1.0.milestone.1"),
        ("1.0.Beta1", "1.0-beta-1"), ("1.0.Alpha1", "1.0-alpha1"),
        ("1.0.SNAPSHOT", "1.0-SNAPSHOT"), ("1.0.SNAPSHOT", "1.0"),
        ("1.0.0.RC1", "1.0.0-RC1"), ("1.0.0.X1", "1.0.0-X2"), ("1.0.X2", "1.0-X3"),
        ("1.0-X3", "1.0.1"), ("1.0.foo", "1.0-foo"), ("1.0.foo1", "1.0-foo1"),
        ("1.0.foo.1", "1.0-foo-1"), ("1.0.foo.1", "1.0-foo.1"), ("1.0.foo-1", "1.0-foo-1"),
        ("1.foo", "1-foo"), ("1.foo.2", "1-foo-2"), ("1.foo.2", "1.foo2"),
        ("1.foo-1", "1.foo1"), ("1.0.foo", "1.0.1"), ("1.0.foo", "1.0-1"),
        ("foo", "foo.1"), ("foo.1", "foo-1"), ("foo1", "foo-1"), ("foo1", "foo.1"),
        ("a1", "alpha-1"), ("a.1", "a1"), ("rc1", "1"), ("final", "1"), ("ga", "0"),
    ],
    "zeros": [
        ("0.1", "00.1"), ("0.1", "0.01"), ("1.0.0", "1"), ("1-0", "1"), ("1.0-0.0", "1"),
        ("1.0-0.0", "1-0"), ("1", "01"), ("1", "001"), ("01", "001"), ("0", "0.0"),
        ("0", "0.0.0"), ("0", "00"), ("0.0.0-0.0.0", "0"), ("0", "0-0"), ("0-final-ga", "0"),
        ("0.0.0-0.0.0", "0-final-ga"), ("1.01", "1.1"), ("1.010", "1.10"), ("1.0010", "1.10"),
        ("1.0.1", "1.1"), ("1.0.0.1", "1.0.1"), ("1.0-1", "1-1"), ("1.0.0-1", "1-1"),
        ("1.0.0", "1.0-1"), ("1", "1-0-0"), ("1-0-1", "1-1"), ("1-0.1", "1-1"),
        ("1-0.1", "1"), ("1-0-1", "1"), ("1.0-0-1", "1-1"), ("0.0.1", "0.1"),
        ("0.0.1", "0.0.0.1"), ("0-1", "1"), ("0-1", "0.1"), ("0-1", "0"),
        ("0.0.0-2021-05-17T01-01-51-5ec03a8b", "20.0.0"), ("0.0.0-2021-05-17T01-01-51-5ec03a8b", "0"),
        ("1.0-0.0.1", "1-0-0-1"), ("1.0-0.0.1", "1.0.0.0.1"), ("1.000", "1"),
        ("1.0000000000", "1"), ("1.0000000000000000000", "1"),
    ],
    "empty-segments-and-separators": [
        ("1..1", "1.0.1"), ("1..1", "1.1"), ("1--1", "1-0-1"), ("1--1", "1-1"),
        ("1.-1", "1-1"), ("1.-1", "1.0-1"), ("1-.1", "1-0.1"), ("1-.1", "1-1"),
        ("1.", "1"), ("1-", "1"), ("1..", "1"), ("1--", "1"), ("1.-", "1"), ("1-.", "1"),
        ("1.1.", "1.1"), ("1.1-", "1.1"), ("1.1..", "1.1"), ("1.1--", "1.1"), (".1", "0.1"),
        (".1", "1"), ("-1", "1"), ("-1", "0-1"), ("-1", "0.1"), ("..1", "0.0.1"),
        ("--1", "0-0-1"), (".", "0"), ("-", "0"), ("..", "0"), ("--", "0"), ("-.-", "0"),
        ("1-a-", "1-a"), ("1.a.", "1.a"), ("1.a.", "1-a"), ("1-a.", "1-a"), ("1a.", "1a"),
        ("1a-", "1a"), ("1-rc-", "1-rc"), ("1.rc.", "1-rc"), ("1-1-", "1-1"), ("1-1.", "1-1"),
        ("1..a", "1.0.a"), ("1..a", "1-a"), ("1--a", "1-0-a"), ("1--a", "1-a"),
        ("1.-a", "1-a"), ("1-.a", "1-a"), ("1-.a", "1-0.a"), ("1..rc1", "1-rc1"),
        ("1.1-.1", "1.1-0.1"), ("1.1.-.1", "1.1"), (".a", "a"), ("-a", "a"), ("-a", "0-a"),
    ],
    "shorthands-aliases-case": [
        ("1a1", "1-alpha-1"), ("1b2", "1-beta-2"), ("1m3", "1-milestone-3"), ("1c1", "1-c-1"),
        ("1alpha1", "1-alpha-1"), ("1.0alpha1", "1.0-alpha-1"), ("1.0alpha1", "1-alpha-1"),
        ("1a", "1-a"), ("1a", "1alpha"), ("1a", "1.0-a"), ("1a1", "1a"), ("1a1", "1-a-1"),
        ("1-a1", "1-a-1"), ("1-a1", "1-alpha1"), ("1.a1", "1-a1"), ("1.a1", "1.alpha.1"),
        ("1.a.1", "1-a-1"), ("1-a.1", "1-alpha.1"), ("1A1", "1a1"), ("1A1", "1ALPHA1"),
        ("1B1", "1beta1"), ("1M1", "1MILESTONE1"), ("1m", "1milestone"), ("1b", "1beta"),
        ("1-a", "1-z"), ("1-a", "1-alpha"), ("1-b", "1-beta"), ("1-m", "1-milestone"),
        ("1-a", "1-sp"), ("1-a", "1"), ("1a", "1"), ("1ga", "1"), ("1release", "1"),
        ("1final", "1"), ("1cr", "1rc"), ("1-cr", "1-rc"), ("1-CR1", "1-RC1"), ("1cr1", "1rc1"),
        ("1.CR1", "1-rc-1"), ("1X", "1x"), ("1Ga", "1"), ("1RELeaSE", "1"), ("1FinaL", "1"),
        ("1Cr", "1Rc"), ("1m3", "1MileStone3"), ("1-SNAPSHOT", "1-snapshot"),
        ("1-Snapshot", "1-sNaPsHoT"), ("1-ga-1", "1-1"), ("1-ga-1", "1-0-1"),
        ("1-final-1", "1-1"), ("1.ga.1", "1.0.1"), ("1.ga.1", "1.1"), ("1-ga.1", "1.1"),
        ("1-release-1", "1-ga-1"), ("1-ga", "1"), ("1-ga", "1.0"), ("1-ga-0", "1"),
        ("1.0.0-ga", "1"), ("1-final-ga", "1"), ("1-sp-ga", "1-sp"), ("1-gaa", "1-ga"),
        ("1-ga1", "1-1"), ("1-ga1", "1-ga-1"), ("1-final1", "1-1"), ("1-sp1", "1-sp-1"),
        ("1-rc1", "1-rc-1"), ("1-rc1", "1-rc.1"), ("1-rc1", "1.rc1"), ("1-rc1-1", "1-rc1.1"),
        ("1-alpha", "1-beta"), ("1-beta", "1-milestone"), ("1-milestone", "1-rc"),
        ("1-rc", "1-snapshot"), ("1-snapshot", "1"), ("1", "1-sp"), ("1-sp", "1-foo"),
        ("1-foo", "1-1"), ("1-1", "1.1"), ("1-alpha", "1-alpha1"), ("1-alpha1", "1-alpha2"),
        ("1-alpha2", "1-alpha10"), ("1-alpha-SNAPSHOT", "1-alpha"), ("1-alpha-1-SNAPSHOT", "1-alpha-1"),
        ("1-SNAPSHOT", "1-rc"), ("1-SNAPSHOT", "1.0-SNAPSHOT"), ("1-SNAPSHOT", "1.0.0-SNAPSHOT"),
        ("1.0-SNAPSHOT", "1.0.SNAPSHOT"), ("1.0-SNAPSHOT", "1.0snapshot"),
    ],
    "unknown-qualifiers": [
        ("1.0-foo", "1.0.foo"), ("1.0.xyz", "1.0-xyz"), ("1-jre", "1-android"), ("1-jre", "1"),
        ("1-android", "1"), ("31.1-jre", "31.1-android"), ("31.1-jre", "31.1"),
        ("1-foo", "1-sp"), ("1-foo", "1-1"), ("1.foo", "1.1"), ("1-FOO", "1-foo"),
        ("1-zzz", "1-aaa"), ("1-foo10", "1-foo9"), ("1-foo.10", "1-foo.9"), ("1-foo-10", "1-foo-9"),
        ("1-foo", "1-foobar"), ("1-foo", "1-fo"), ("1-aa", "1-alpha"), ("1-alpha", "1-alphaa"),
        ("1-spa", "1-sp"), ("1-rcx", "1-rc"), ("1-x", "1-sp"), ("1-x", "1-y"), ("1-_", "1-a"),
        ("1_1", "1-1"), ("1_1", "1.1"), ("1+1", "1-1"), ("1~1", "1-1"), ("1_foo", "1-_foo"),
        ("1-klm", "1-lmn"), ("2.0.1", "2.0.1-xyz"), ("2.0.1", "2.0.1-123"), ("2.0.1-xyz", "2.0.1-123"),
        ("1-foo", "1.0.0-foo.0.0"), ("1-foo-bar", "1-foo.bar"), ("1-foo.bar", "1-foobar"),
        ("1-dev", "1-pre"), ("1-pre", "1-rc"), ("1-pr1", "1-rc1"), ("1-v1", "1-1"),
        ("1-pom-1", "1-1-snapshot"), ("1-abc", "1-def"), ("1-sec10", "1_noneautotype"),
        ("1.sec10", "1_sec10"), ("1.sec10", "1-sec10"), ("1.2.3.v20140522", "1.2.3"),
        ("1.2.3.v20140522", "1.2.3.v20140523"), ("1.2.3.qualifier", "1.2.3.v20140522"),
    ],
    "big-numbers": [
        ("999999999", "1000000000"), ("2147483647", "2147483648"), ("1.2147483647", "1.2147483648"),
        ("4294967296", "4294967295"), ("9223372036854775807", "9223372036854775808"),
        ("999999999999999999", "1000000000000000000"), ("18446744073709551616", "18446744073709551615"),
        ("99999999999999999999", "100000000000000000000"), ("1.99999999999999999999", "1.100000000000000000000"),
        ("0000000000", "0"), ("0000000000000000000", "0"), ("1.0000000000.1", "1.0.1"),
        ("1.0000000000.1", "1.1"), ("1.0000000000.1", "1.999999999"), ("1.0000000000.1", "1.1000000000"),
        ("1.0000000000000000000.1", "1.0000000000.1"), ("1.0000000000000000000.1", "1.999999999999999999"),
        ("1.0000000000000000000.1", "1.1000000000000000000"), ("1.000000001", "1.1"),
        ("1.0000000001", "1.1"), ("1.00000000000000000001", "1.1"), ("1.000000000.1", "1.0.1"),
        ("1.000000000000000000.1", "1.0000000000.1"), ("1-0000000000-1", "1-0-1"),
        ("1-0000000000-1", "1-1"), ("1.0000000000-1", "1-1"), ("1.0000000000-rc", "1-rc"),
        ("1.0000000000.rc", "1-rc"), ("1.0000000000.rc.1", "1.0.rc.1"),
        ("20190126.230843", "1234567890.12345"), ("1234567890.12345", "123456789012345.1H.5-beta"),
        ("123456789012345.1H.5-beta", "12345678901234567890.1H.5-beta"),
        ("12345678901234567890.1H.5-beta", "12345678901234567890.1H.5"),
        ("1.20220622", "1.2022"), ("20220622", "2022"), ("1-20200101.123456-1", "1-SNAPSHOT"),
        ("1-20200101.123456-1", "1"), ("1.0-20200101.123456-1", "1.0-20200101.123456-2"),
        ("1.0-20200101.123456-1", "1.0-20200102.000000-1"), ("2.0.0-20190126.230843-12", "2.0.0-SNAPSHOT"),
        ("1a9999999999", "1a10000000000"), ("1-rc2147483648", "1-rc2147483647"),
        ("1.9223372036854775808", "1.9223372036854775807"), ("0.00000000000000000000001", "0.1"),
    ],
    "digit-letter-switches": [
        ("1a1", "1.a.1"), ("1a1", "1-a.1"), ("1alpha1", "1.alpha.1"), ("1.0alpha1", "1.0.alpha.1"),
        ("6.1.0rc3", "6.1.0"), ("6.1.0rc3", "6.1H.5-beta"), ("6.1.0", "6.1H.5-beta"),
        ("6.1H.5-beta", "6.1-H.5-beta"), ("6.1H.5-beta", "6.1.H.5-beta"), ("1h", "1-h"),
        ("1a2b3", "1-a-2-b-3"), ("1a2b3", "1a2.b3"), ("1a2b3", "1a2-b3"), ("1rc1a", "1rc1-a"),
        ("1x1y", "1x1"), ("1x1y", "1x1-y"), ("1.x1y", "1-x1y"), ("2.0b3", "2.0-beta-3"),
        ("2.0b3", "2.0.b3"), ("2.0b3", "2.0b"), ("1.0.0rc0", "1.0.beta8"), ("1.0.0rc0", "1.0.0-rc0"),
        ("6.1.12.rc5", "6.1.12rc1"), ("6.1.12.rc5", "6.1.12-rc5"), ("1.5.9.RC1", "1.5.9-RC0"),
        ("1.1.0-01-glassfish", "1.1.0.Beta1"), ("2.9.0-1", "2.9.0.RC1"), ("1.0.0-RC16", "1.0.0.RC8-beta"),
        ("1.0.0-gradle-rework-beta3", "1.0.0.RC7-3"), ("1.1.31.sec10", "1.1.31_noneautotype"),
        ("1.2.8.sec10_noneautotype", "1.2.8_noneautotype"), ("v1", "v2"), ("v1", "1"), ("v1.0", "v1"),
        ("r09", "r10"), ("r09", "10.0"), ("r09", "9"), ("1.0a", "1-a"), ("1.0.0a", "1-a"),
        ("1x", "1.0-x"), ("1.0x", "1-x"), ("1x", "1.0.0-x"), ("1-1.foo-bar-1-baz-0.1", "1-1.foo-bar1baz-.1"),
    ],
}

# Real-world Maven Central version styles, written from memory of well-known artifacts.
REAL_WORLD = """
31.1-jre 31.1-android 31.0.1-jre 32.0.0-jre 32.0.0-android 32.1.3-jre 33.0.0-jre 30.1.1-jre
28.2-android 23.0 23.6-jre 23.6.1-jre 20.0 19.0 19.0-rc1 18.0-rc2 14.0-rc1 11.0.2 10.0.1 r03 r09
5.3.20 5.2.9.RELEASE 4.3.30.RELEASE 5.0.0.RC1 5.0.0.M5 5.0.0.RELEASE 5.3.0-M1 5.3.0-RC1 6.0.0-M1
6.0.0-RC4 6.0.0 6.1.0 2.5.6.SEC03 2.5.6 3.0.0.RC3 3.0.0.RELEASE 5.0.0.BUILD-SNAPSHOT 2.7.0-M3
2.7.0 3.0.0-RC2 1.5.22.RELEASE Hoxton.SR12 Hoxton.RELEASE Greenwich.RELEASE Greenwich.SR6
Finchley.SR4 Camden.SR7 2021.0.3 2020.0.0-M6 2020.0.0
2.13.4.2 2.13.4.1 2.13.4 2.13.5 2.12.7.1 2.12.7 2.9.10.8 2.9.10 2.14.0-rc1 2.14.0 2.15.0-rc3
2.10.0.pr1 2.10.0 2.0.0-RC1 1.9.13
2.0-beta9 2.0-beta10 2.0-rc1 2.0-rc2 2.0 2.0.1 2.0-alpha1 2.17.1 2.17.0 2.16.0 2.15.0 2.12.4 2.3.2
1.2.17 3.0.0-alpha1 3.0.0-beta1 3.0.0-beta2
5.6.15.Final 5.6.14.Final 6.0.0.Alpha7 6.0.0.Beta1 6.0.0.CR1 6.0.0.Final 6.1.7.Final 5.4.33
5.4.33.Final 4.3.11.Final 3.6.10.Final 5.0.0.CR1 6.2.0.CR4 7.0.0.Beta1 6.0.0.Alpha1 8.0.0.Final
4.1.86.Final 4.0.0.Alpha1 4.0.0.Beta3 4.0.0.CR9 5.0.0.Alpha2 3.10.6.Final 4.1.0.CR7 4.1.0.Beta8
4.13.2 4.13-beta-1 4.13-rc-1 4.13 4.12 5.9.0-M1 5.9.0-RC1 5.9.0
3.2.2 20040616 2.11.0 1.3.2 1.4 3.12.0
9.4.48.v20220622 9.4.49.v20220914 11.0.12 10.0.0.beta3 10.0.0 9.4.0.RC1 9.3.0.M2 7.0.0.pre5
1.7.20-Beta 1.7.20-RC 1.7.20 1.8.0-RC2 1.8.0 1.9.0-Beta 1.6.255-SNAPSHOT
2.13.0-M5 2.13.0-RC3 2.13.0 2.12.17
2.5.30 2.3.37 9.0.65 10.1.0-M17 10.1.0 8.5.82 3.0.0-RC1 3.0.0
2.13.3.Final 3.0.0.Alpha1 3.0.0.CR2 3.0.0.Final 4.3.4 4.0.0-milestone5 4.0.0-CR1 4.0.0
2.5.0-rc-1 3.0.0-alpha-4 4.0.0-beta-1 2.4.21 2.10 2.8.9 3.21.7 3.22.0-RC1 4.0.0-rc-2
3.0.0-beta-1 3.0.0-alpha-3.1 4.10.0 5.0.0-alpha.10 5.0.0-alpha.9 3.14.9 3.1.5 2.0.0-RC5
2.0.0-DP0-20151003.214425-143 3.3.0-v20070604 1.0.0.v20140522-1415 1.0.0.qualifier
31.0.0-alpha01 7.3.0-beta03 1.0.0-rc01 1.6.0-alpha02 1.6.0 1.0-20200101.123456-1
1.0-SNAPSHOT 1.0.0-SNAPSHOT 1.0-m1 2.0b3 1.0.0.M1-SNAPSHOT 3.0.0-beta-3-SNAPSHOT
1.2.83_noneautotype 1.2.83 1.1.31.sec10 1.2.8.sec10_noneautotype 2.0.0.M1 1.0.Final 1.0.GA 1.0-SP1
1.0.sp 1.0.0.GA 3.1.0.GA 2.2.0.SP1 7.1.0.Final 1.0.0.Beta1 1.0.0.Beta1-redhat-00001
1.0.0.Final-redhat-1 2.3.0.redhat-00001 1.8.0.redhat-1 3.9.16 3.8.7 4.0.0-rc-6 4.0.0-alpha-13
4.0.0-beta-5 0.9.1 0.10.0 0.1.0-SNAPSHOT 1.0.0-alpha.1 1.0.0-alpha.beta 1.0.0-beta.11 1.0.0-rc.1
""".split()

# Tokens for random versions; mixed case is applied at random.
NUMBERS = ["0", "1", "2", "3", "9", "10", "11", "00", "01", "010", "123", "999999999",
           "1000000000", "2147483647", "2147483648", "0000000000", "9223372036854775807",
           "9223372036854775808", "000000000000000000000", "20220622"]
WORDS = ["a", "b", "m", "c", "x", "alpha", "beta", "milestone", "rc", "cr", "snapshot", "ga",
         "final", "release", "sp", "foo", "xyz", "jre", "android", "pr", "dev", "sec", "redhat",
         "z", "aa", "spa", "gaa"]
QUALIFIER_MATRIX = ["alpha", "Alpha", "a", "A", "beta", "b", "milestone", "m", "M", "rc", "RC",
                    "cr", "CR", "snapshot", "SNAPSHOT", "ga", "GA", "final", "Final", "release",
                    "RELEASE", "sp", "SP", "foo", "jre", "xyz", "c"]
QUALIFIER_FORMS = ["{b}.{q}", "{b}-{q}", "{b}{q}", "{b}.{q}1", "{b}-{q}1", "{b}{q}1",
                   "{b}-{q}-1", "{b}.{q}.1", "{b}-{q}.1", "{b}.{q}-1", "{b}.{q}1.1",
                   "{b}-{q}-SNAPSHOT"]

# Non-ASCII input: Java's char-based parsing (Character.isDigit on UTF-16 units,
# Integer.parseInt accepting any Unicode decimal digit, toLowerCase(Locale.ENGLISH),
# String.compareTo on UTF-16 units). Kept in a separate last section.
NON_ASCII = [
    ("1.\uff11", "1.1"),            # fullwidth digit one: a digit, value 1
    ("1.\u0967\u0968", "1.12"),     # Devanagari 12
    ("1.\u0663", "1.3"),            # Arabic-Indic 3
    ("1.\u0660", "1"),              # Arabic-Indic zero: a null 0
    ("1.\U0001D7D9", "1.1"),        # mathematical double-struck one: not a BMP char, a word
    ("1.\U0001D7D9", "1-\U0001D7D9"),
    ("1-\uff41", "1-\U0001D7D9"),   # UTF-16 order (FF41 > D835) vs code point order
    ("1-\ufb01", "1-\U00010000"),
    ("1-\u00e9", "1-f"),
    ("1-\u00c9", "1-\u00e9"),       # case-folded to the same word
    ("1-\u0130", "1-i\u0307"),      # capital I with dot lowercases to i + combining dot
    ("1-\u03a3", "1-\u03c3"),       # final-sigma rule: a lone capital sigma
    ("1-A\u03a3", "1-a\u03c2"),     # final sigma after a letter
    ("1-\u212a", "1-k"),            # Kelvin sign lowercases to k
    ("1-\u0130", "1-i"),
    ("\uff11.0", "1"),
    ("1\u0661", "11"),              # Arabic-Indic one right after an ASCII digit
    ("1a\u0661", "1-alpha-1"),
    ("1.\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660.1", "1.0000000000.1"),
    ("1.\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660.1", "1.0.1"),
]


# --------------------------------------------------------------------------- generation

def random_version(rng):
    parts = [rng.choice(NUMBERS[:8]) if rng.random() < 0.8 else rng.choice(NUMBERS)]
    for _ in range(rng.randrange(0, 5)):
        sep = rng.choices([".", "-", "", "..", "--", ".-", "-."], [40, 30, 20, 3, 3, 2, 2])[0]
        if rng.random() < 0.6:
            token = rng.choice(NUMBERS[:9]) if rng.random() < 0.85 else rng.choice(NUMBERS)
        else:
            token = mixcase(rng, rng.choice(WORDS))
        if sep == "" and parts:
            # a separator-less join only makes sense at a digit/letter switch
            last = parts[-1][-1:]
            if last.isdigit() == token[:1].isdigit():
                sep = "."
        parts.append(sep + token)
    if rng.random() < 0.06:
        parts.append(rng.choice([".", "-", "..", "-."]))
    return "".join(parts)


def qualifier_matrix(corpus):
    rng = random.Random(SEED + 3)
    corpus.section("qualifier-forms-1.0")
    everything = []
    for q in QUALIFIER_MATRIX:
        forms = [f.format(b="1.0", q=q) for f in QUALIFIER_FORMS]
        everything += forms
        corpus.add_all(itertools.combinations(forms, 2))
        corpus.add_all((form, "1.0") for form in forms)
    corpus.section("qualifier-forms-2.0.0")
    pairs = []
    for q in QUALIFIER_MATRIX:
        forms = [f.format(b="2.0.0", q=q) for f in QUALIFIER_FORMS]
        pairs += itertools.combinations(forms, 2)
        pairs += [(form, "2.0.0") for form in forms] + [(form, "2.0.1") for form in forms]
    corpus.add_all(rng.sample(pairs, 400))
    corpus.section("qualifier-ranks-1.0")
    for form in ["{b}.{q}", "{b}-{q}", "{b}{q}1", "{b}.{q}.1"]:
        versions = [form.format(b="1.0", q=q) for q in QUALIFIER_MATRIX]
        corpus.add_all(itertools.combinations(versions, 2))
    corpus.section("qualifier-ranks-mixed-forms")
    for _ in range(600):
        corpus.add(*rng.sample(everything, 2))


def numbers_matrix(corpus):
    corpus.section("number-sizes")
    values = ["0", "00", "1", "01", "9", "10", "999999999", "0999999999", "1000000000",
              "2147483647", "2147483648", "0000000000", "999999999999999999",
              "1000000000000000000", "9223372036854775807", "9223372036854775808",
              "0000000000000000000", "18446744073709551616", "00000000000000000000000001"]
    versions = []
    for v in values:
        versions += [v, f"1.{v}", f"1.{v}.1", f"1-{v}", f"1.{v}-rc"]
    rng = random.Random(SEED + 1)
    pairs = list(itertools.combinations(versions, 2))
    corpus.add_all(rng.sample(pairs, 900))


def transitivity(corpus, pool):
    """Triples whose three pairs are all recorded: cycles, near misses, random triples."""
    # The POM-reference rule `.qualifier < -qualifier` makes this a cycle; ComparableVersion
    # 3.8.7 reads `1.sp` as `1-sp` and has none here.
    corpus.section("transitivity-spec-cycle")
    for a, b, c in [("1-SNAPSHOT", "1", "1.sp"), ("1-SNAPSHOT", "1", "1-sp"),
                    ("1.0-SNAPSHOT", "1.0", "1.0.sp"), ("1.0-SNAPSHOT", "1.0", "1.0.SP1")]:
        corpus.add_all([(a, b), (b, c), (c, a)])
    # Real ComparableVersion 3.8.7 cycles a < b < c < a: null-like items (0, 0000000000,
    # ga) that compare unequal to each other but equal to a missing item.
    cycles = [
        ("1.ga.1", "1.0.alpha.1", "1"), ("1.0.1", "1.0000000000.alpha.2", "1"),
        ("1.final.1", "1.0.rc.1", "1"), ("1.ga.1", "1.0.snapshot.1", "1.0"),
        ("1.0.1", "1.0000000000.rc.1", "1"), ("1.ga.sp", "1.0.alpha.1", "1"),
        # among real published versions (from the shared Maven fixture file)
        ("3.0.0.alpha.1.0", "3.0", "3.0-pre1"), ("3.0.0.alpha.1.0", "3.0", "3.0.0-20180727"),
        ("3.0.0.alpha.3", "3.0.0.GA", "3.0.0-03"), ("3.0.0.alpha.5.0.5", "3.0-FINAL", "3.0.0.preview"),
        ("3.0.0.alpha.3", "3.0", "3.0-1"), ("3.0.0.alpha.4.0", "3.0.0.Final", "3.0-dev2"),
    ]
    # Found by brute force over a corner-case pool: every 3-cycle a < b < c < a.
    pool_small = sorted(set(CYCLE_POOL))
    pairs = list(itertools.combinations(pool_small, 2))
    ops = dict(zip(pairs, real_ops(pairs)))

    def less(a, b):
        if (a, b) in ops:
            return ops[(a, b)] == "<"
        return ops[(b, a)] == ">"

    found = []
    for a, b, c in itertools.combinations(pool_small, 3):
        if less(a, b) and less(b, c) and less(c, a):
            found.append((a, b, c))
        elif less(b, a) and less(c, b) and less(a, c):
            found.append((a, c, b))
    rng = random.Random(SEED + 2)
    cycles += rng.sample(found, min(len(found), 60))
    check = [pair for a, b, c in cycles for pair in [(a, b), (b, c), (c, a)]]
    answers = real_ops(check)
    for k, triple in enumerate(cycles):
        if answers[3 * k:3 * k + 3] != ["<", "<", "<"]:
            raise SystemExit(f"not a cycle under this oracle: {triple}")
    corpus.section("transitivity-cycles")
    for a, b, c in cycles:
        # complete triples, three consecutive lines each, even if a pair occurs elsewhere
        corpus.add_all([(a, b), (b, c), (c, a)], force=True)
    corpus.section("transitivity-near-misses")
    for a, b, c in [("1.0.1", "1.0000000000000000000.alpha.1", "1.0000000000.1"),
                    ("1-ga-1", "1-1", "1-0-1"), ("1-ga.1", "1-0.1", "1"), ("1.ga.1", "1.0.1", "1.1"),
                    ("3.0", "3.0.0.alpha.3", "3.0.1"), ("3.0-1", "3.0", "3.0.0.1")]:
        corpus.add_all([(a, b), (b, c), (c, a)])
    corpus.section("transitivity-random")
    for _ in range(400):
        a, b, c = rng.sample(pool, 3)
        corpus.add_all([(a, b), (b, c), (a, c)])
    return len(found)


CYCLE_POOL = [
    "1", "1.0", "1.1", "1.0.1", "1-1", "1-0-1", "1.0000000000.1", "1.0000000000000000000.1",
    "1.ga.1", "1.final.1", "1.0.alpha.1", "1.0.rc.1", "1.0.snapshot.1", "1.0.sp.1", "1.0.foo.1",
    "1.ga.alpha.1", "1.ga.sp", "1.0000000000.alpha.1", "1.0000000000.rc.1", "1-ga-1", "1-ga.1",
    "1.ga-1", "1-0.1", "1-rc", "1-sp", "1.sp", "1-SNAPSHOT", "1.alpha.1", "1.alpha", "1.ga.0.1",
    "1.0.ga.1", "1.ga.ga.1", "1-alpha-1", "1-0.alpha.1", "1.0-alpha.1", "1-ga-alpha.1",
    "1-0000000000-1", "1.0-1", "1.0.0.1", "1.ga.foo", "1.0.foo", "1.0000000000.foo",
]


def build(fixture):
    rng = random.Random(SEED)
    corpus = Corpus()
    for name, pairs in CURATED.items():
        corpus.section(name)
        corpus.add_all(pairs)

    qualifier_matrix(corpus)
    numbers_matrix(corpus)

    corpus.section("real-world-sorted-neighbours")
    real = list(dict.fromkeys(REAL_WORLD))
    ordered = real_sorted(real)
    corpus.add_all(chain(ordered))
    corpus.section("real-world-random")
    for _ in range(700):
        corpus.add(*rng.sample(real, 2))

    fixture_note = "not used"
    if fixture and os.path.exists(fixture):
        with open(fixture, "rb") as handle:
            raw = handle.read()
        fixture_note = f"{os.path.basename(fixture)} sha256 {hashlib.sha256(raw).hexdigest()}"
        seen = []
        for line in raw.decode("utf-8").splitlines():
            fields = line.split(" ")
            if len(fields) == 3 and fields[1] in ("<", "=", ">"):
                seen += [fields[0], fields[2]]
        unique = sorted(set(seen))
        sample = rng.sample(unique, min(500, len(unique)))
        corpus.section("fixture-versions-sorted-neighbours")
        corpus.add_all(chain(real_sorted(sample)))
        corpus.section("fixture-versions-random")
        for _ in range(500):
            corpus.add(*rng.sample(sample, 2))
    elif fixture:
        print(f"note: {fixture} not found, its real-world sample is skipped", file=sys.stderr)

    pool = list(dict.fromkeys(random_version(rng) for _ in range(1200)))
    corpus.section("random-sorted-neighbours")
    ordered = real_sorted(pool)
    corpus.add_all(chain(ordered))
    corpus.section("random-pairs")
    for _ in range(1000):
        corpus.add(*rng.sample(pool, 2))
    cycles = transitivity(corpus, pool + real)

    corpus.section("non-ascii")
    corpus.add_all(NON_ASCII)
    return corpus, fixture_note, cycles


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    parser.add_argument("--fixture", default=DEFAULT_FIXTURE,
                        help="real-world version sample source ('' to skip)")
    args = parser.parse_args()

    corpus, fixture_note, cycles = build(args.fixture)
    pairs = [pair for _, section in corpus.sections for pair in section]
    ops = real_ops(pairs)
    info, _ = harness("info", [])
    jar = os.environ.get("MAVEN_ARTIFACT_JAR", DEFAULT_JAR)
    with open(jar, "rb") as handle:
        jar_sha = hashlib.sha256(handle.read()).hexdigest()
    counts = {op: ops.count(op) for op in "<=>"}

    command = "scripts/maven-order/generate.py"
    if os.path.abspath(args.output) != DEFAULT_OUTPUT:
        command += " --output " + shlex.quote(args.output)
    if args.fixture != DEFAULT_FIXTURE:
        command += " --fixture " + shlex.quote(args.fixture)
    header = [
        "# Maven version ordering: answers of the real org.apache.maven.artifact.versioning.ComparableVersion.",
        f"# Oracle: {info[0]}",
        f"# Jar: {os.path.realpath(jar)} sha256 {jar_sha}",
        "#   (ComparableVersion of Maven 3.8.7/3.8.8 and of 3.9.0 to 3.9.16 is one algorithm, only",
        "#   reformatted in 3.9; see scripts/maven-order/ALGORITHM.md).",
        f"# Produced by: {command} (seed {SEED}), which runs scripts/maven-order/run.sh pairs,",
        "#   i.e. sign of new ComparableVersion(A).compareTo(new ComparableVersion(B)) for each line.",
        f"# Real-world sample drawn from: {fixture_note}.",
        f"# Format: A<TAB>OP<TAB>B, OP one of < = >; compare(B, A) is the opposite (checked by the harness).",
        "#   Lines starting with # are comments; `# == name ==` starts a section. The last section,",
        "#   non-ascii, depends on Java's UTF-16 char handling; skip it if that is out of scope.",
        "# ComparableVersion is NOT transitive: section transitivity-cycles holds triples a, b, c listed",
        "#   as three consecutive lines a<b, b<c, c<a, each a verified cycle (the brute force found "
        f"{cycles} 3-cycles in its corner-case pool).",
        f"# {len(pairs)} pairs: {counts['<']} <, {counts['=']} =, {counts['>']} >.",
    ]
    lines = list(header)
    index = 0
    for name, section in corpus.sections:
        if not section:
            continue
        lines.append(f"# == {name} ==")
        for a, b in section:
            lines.append(f"{a}\t{ops[index]}\t{b}")
            index += 1
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"wrote {len(pairs)} pairs to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
