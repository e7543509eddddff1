// Differential oracle for Maven version ordering.
//
// Asks Maven's own org.apache.maven.artifact.versioning.ComparableVersion (whatever
// maven-artifact jar is on the class path) how versions compare, so that Bulwark's Rust
// implementation can be checked against the real thing. Our own code: it only calls the
// public API (new ComparableVersion(s), compareTo, getCanonical), plus, in the `tokens`
// mode, reads the private parsed item list by reflection for display.
//
// Input is read from stdin as UTF-8, one record per line; output goes to stdout as UTF-8.
// Modes (first argument, default `pairs`):
//
//   pairs      lines `A<TAB>B`            -> `A<TAB>OP<TAB>B`, OP = sign of compare(A, B)
//   chain      one version per line       -> `A<TAB>OP<TAB>B` for every consecutive pair
//   canonical  one version per line       -> `V<TAB>getCanonical()`
//   tokens     one version per line       -> `V<TAB>getCanonical()<TAB>item tree`
//   check      fixture lines `A OP B`     -> every line where the real answer differs
//              (blank lines and lines starting with `# ` or `// ` are skipped, as in
//              crates/bulwark-version/tests/fixtures.rs); prints
//              `LINE_NO<TAB>LINE<TAB>real: A OP' B` and a summary on stderr
//   sort       one version per line       -> the versions sorted ascending, as a chain
//              `A<TAB>OP<TAB>B`; then checks on stderr that the order is a total
//              preorder over the whole input (every pair, O(n^2)): any pair that the
//              sorted order contradicts, and any compare(a,b) != -compare(b,a), is reported
//   info       no input                   -> the maven-artifact version in use
//
// In every mode a pair is also compared the other way round, and a line reporting an
// antisymmetry violation is written to stderr if compare(B, A) is not the opposite. If
// the class throws on a version, OP is `!` and the exception goes to stderr. The exit
// status is 1 if anything was reported on stderr as a problem, 2 on bad usage.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.apache.maven.artifact.versioning.ComparableVersion;

public final class MavenOrder {
    private static PrintWriter out;
    private static PrintWriter err;
    private static int problems = 0;

    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "pairs";
        out = new PrintWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), false);
        err = new PrintWriter(new OutputStreamWriter(System.err, StandardCharsets.UTF_8), true);
        try {
            run(mode);
        } finally {
            out.flush();
        }
        if (problems > 0) {
            err.println(problems + " problem(s) reported");
            System.exit(1);
        }
    }

    private static void run(String mode) throws Exception {
        switch (mode) {
            case "pairs": pairs(); break;
            case "chain": chain(); break;
            case "canonical": canonical(false); break;
            case "tokens": canonical(true); break;
            case "check": check(); break;
            case "sort": sort(); break;
            case "info": info(); break;
            default:
                err.println("unknown mode " + mode
                        + " (pairs | chain | canonical | tokens | check | sort | info)");
                System.exit(2);
        }
    }

    private static List<String> readLines() throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        List<String> lines = new ArrayList<>();
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            lines.add(line);
        }
        return lines;
    }

    private static String op(int sign) {
        return sign == 2 ? "!" : sign < 0 ? "<" : sign == 0 ? "=" : ">";
    }

    /**
     * The sign of compare(a, b), or 2 if the class throws; also checks that compare(b, a)
     * is its opposite.
     */
    private static int compare(String a, String b) {
        ComparableVersion va;
        ComparableVersion vb;
        try {
            va = new ComparableVersion(a);
            vb = new ComparableVersion(b);
        } catch (RuntimeException e) {
            problems++;
            err.println("exception comparing " + a + " with " + b + ": " + e);
            return 2;
        }
        int forward = Integer.signum(va.compareTo(vb));
        int backward = Integer.signum(vb.compareTo(va));
        if (forward != -backward) {
            problems++;
            err.println("antisymmetry violated: " + a + " " + op(forward) + " " + b
                    + " but " + b + " " + op(backward) + " " + a);
        }
        return forward;
    }

    private static void pairs() throws Exception {
        for (String line : readLines()) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int tab = line.indexOf('\t');
            if (tab < 0) {
                problems++;
                err.println("not an A<TAB>B line: " + line);
                continue;
            }
            String a = line.substring(0, tab);
            String b = line.substring(tab + 1);
            out.println(a + "\t" + op(compare(a, b)) + "\t" + b);
        }
    }

    private static void chain() throws Exception {
        String previous = null;
        for (String version : readLines()) {
            if (previous != null) {
                out.println(previous + "\t" + op(compare(previous, version)) + "\t" + version);
            }
            previous = version;
        }
    }

    private static void canonical(boolean withTokens) throws Exception {
        for (String version : readLines()) {
            try {
                ComparableVersion parsed = new ComparableVersion(version);
                String line = version + "\t" + parsed.getCanonical();
                if (withTokens) {
                    line += "\t" + tree(parsed);
                }
                out.println(line);
            } catch (RuntimeException e) {
                problems++;
                out.println(version + "\t!");
                err.println("exception parsing " + version + ": " + e);
            }
        }
    }

    /**
     * The parsed item tree, e.g. `[1, [rc, [1]]]`; numbers show their representation:
     * `i` (int, up to 9 digits), `L` (long, 10 to 18 digits), `B` (BigInteger), strings
     * are quoted after alias resolution.
     */
    private static String tree(ComparableVersion parsed) throws Exception {
        Field field = ComparableVersion.class.getDeclaredField("items");
        field.setAccessible(true);
        return render(field.get(parsed));
    }

    private static String render(Object item) {
        if (item instanceof List) {
            StringBuilder buffer = new StringBuilder("[");
            for (Object child : (List<?>) item) {
                if (buffer.length() > 1) {
                    buffer.append(", ");
                }
                buffer.append(render(child));
            }
            return buffer.append(']').toString();
        }
        String kind = item.getClass().getSimpleName();
        switch (kind) {
            case "IntItem": return item.toString();
            case "LongItem": return item + "L";
            case "BigIntegerItem": return item + "B";
            case "StringItem": return "'" + item + "'";
            default: return kind + "(" + item + ")";
        }
    }

    private static void check() throws Exception {
        List<String> lines = readLines();
        int checked = 0;
        int disagreements = 0;
        for (int index = 0; index < lines.size(); index++) {
            String line = lines.get(index);
            if (line.trim().isEmpty() || line.startsWith("# ") || line.startsWith("// ")) {
                continue;
            }
            String[] fields = line.split(" ", -1);
            if (fields.length != 3 || !(fields[1].equals("<") || fields[1].equals("=")
                    || fields[1].equals(">"))) {
                problems++;
                err.println((index + 1) + ": malformed fixture line " + line);
                continue;
            }
            checked++;
            String real = op(compare(fields[0], fields[2]));
            if (!real.equals(fields[1])) {
                disagreements++;
                out.println((index + 1) + "\t" + line + "\treal: " + fields[0] + " " + real + " "
                        + fields[2]);
            }
        }
        err.println(checked + " assertions checked, " + disagreements + " disagree with "
                + ComparableVersion.class.getName() + " " + implementationVersion());
    }

    private static void sort() throws Exception {
        List<String> input = readLines();
        int n = input.size();
        ComparableVersion[] parsed = new ComparableVersion[n];
        for (int i = 0; i < n; i++) {
            parsed[i] = new ComparableVersion(input.get(i));
        }
        // A plain insertion sort: unlike List.sort it never throws on an inconsistent
        // comparator, so the full check below can report what is wrong.
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
            for (int j = i; j > 0 && parsed[order[j - 1]].compareTo(parsed[order[j]]) > 0; j--) {
                Integer swap = order[j - 1];
                order[j - 1] = order[j];
                order[j] = swap;
            }
        }
        for (int k = 1; k < n; k++) {
            String a = input.get(order[k - 1]);
            String b = input.get(order[k]);
            out.println(a + "\t" + op(compare(a, b)) + "\t" + b);
        }
        // Total preorder check: for positions p < q the sorted order claims a <= b, and
        // a = b exactly when every element between them is equal too.
        int[] run = new int[n]; // index of the first element of each element's = run
        for (int k = 0; k < n; k++) {
            run[k] = k > 0 && parsed[order[k - 1]].compareTo(parsed[order[k]]) == 0 ? run[k - 1] : k;
        }
        long violations = 0;
        for (int p = 0; p < n; p++) {
            for (int q = p + 1; q < n; q++) {
                ComparableVersion a = parsed[order[p]];
                ComparableVersion b = parsed[order[q]];
                int forward = Integer.signum(a.compareTo(b));
                int backward = Integer.signum(b.compareTo(a));
                int expected = run[q] == run[p] ? 0 : -1;
                if (forward != expected || backward != -expected) {
                    violations++;
                    if (violations <= 50) {
                        err.println("order violation: " + input.get(order[p]) + " " + op(forward) + " "
                                + input.get(order[q]) + " (reverse " + op(backward)
                                + "), but sorted order says " + op(expected));
                    }
                }
            }
        }
        err.println(n + " versions sorted, " + violations + " pair(s) contradict a total preorder");
        problems += violations > 0 ? 1 : 0;
    }

    private static String implementationVersion() {
        Package p = ComparableVersion.class.getPackage();
        String version = p == null ? null : p.getImplementationVersion();
        return version == null ? "(unknown version)" : version;
    }

    private static void info() {
        String location = String.valueOf(
                ComparableVersion.class.getProtectionDomain().getCodeSource().getLocation());
        out.println("maven-artifact " + implementationVersion() + " from " + location
                + " on Java " + System.getProperty("java.version"));
    }
}
