package dev.featurepipe.clickhouse;

import dev.featurepipe.core.FeaturepipeException;
import dev.featurepipe.core.Secrets;
import dev.featurepipe.core.StoreRejectedException;
import dev.featurepipe.core.StoreUnavailableException;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one place ClickHouse's error answers become featurepipe's. An INSERT of events is retried unless ClickHouse
 * says the rows themselves are wrong: a disk that is full, a password rotated, a table dropped or a proxy's 502
 * while the server restarts all pass, and no event leaves the offline store for them. A query (a feature's SQL, a
 * training set) is the statement's fault unless ClickHouse says "not now".
 */
final class ClickHouseErrors {
    private static final Pattern ERROR_CODE = Pattern.compile("Code: (\\d+)");
    /**
     * Codes about a row's values: text, numbers or dates that cannot be parsed or converted, a value out of range
     * or too large, data that is not valid for its type.
     */
    private static final Set<Integer> ROW_ERRORS = Set.of(6, 26, 27, 38, 41, 69, 70, 72, 117, 131, 321);
    /**
     * Codes that say "not now" rather than "never" for a query: timeouts, network errors, too many queries or
     * parts, memory limits, a read-only table.
     */
    private static final Set<Integer> PASSING = Set.of(159, 202, 209, 210, 241, 242, 252, 425);
    /** Quoted text, where ClickHouse puts the values of a row it could not read. */
    private static final Pattern QUOTED = Pattern.compile("'(?:[^'\\\\]|\\\\.)*'|\"(?:[^\"\\\\]|\\\\.)*\"");
    /** Unknown user, wrong password (18.16), authentication failed (later versions). */
    private static final Set<Integer> REFUSED_USER = Set.of(192, 193, 516);

    private ClickHouseErrors() {
    }

    /** Whether ClickHouse refused the user or its password. */
    static boolean refusedUser(int status, String body) {
        Integer code = code(body);
        return status == 401 || (code != null && REFUSED_USER.contains(code));
    }

    /**
     * An answer to an INSERT as it may be printed: its first line, with quoted text masked, since the lines after
     * it and the quotes hold the values of the row ClickHouse could not read (event payload).
     */
    static String withoutValues(String answer) {
        int end = answer.indexOf('\n');
        return QUOTED.matcher(end < 0 ? answer : answer.substring(0, end)).replaceAll("'" + Secrets.MASK + "'");
    }

    private static Integer code(String body) {
        Matcher m = ERROR_CODE.matcher(body);
        return m.find() ? Integer.parseInt(m.group(1)) : null;
    }

    /** The error ClickHouse answered with HTTP {@code status} and {@code body}, described by {@code message}. */
    static FeaturepipeException of(boolean insert, int status, String body, String message) {
        Integer code = code(body);
        if (insert) {
            return code != null && ROW_ERRORS.contains(code) ? new StoreRejectedException(message, null)
                    : new StoreUnavailableException(message, null);
        }
        return status == 503 || (code != null && PASSING.contains(code)) ? new StoreUnavailableException(message, null)
                : new StoreRejectedException(message, null);
    }
}
