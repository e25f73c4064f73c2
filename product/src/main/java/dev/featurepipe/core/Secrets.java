package dev.featurepipe.core;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The one place credentials are taken out of text that is printed: log lines, error messages, metrics. */
public final class Secrets {
    /** The user information of a URI: {@code scheme://user:password@} or {@code scheme://password@}. */
    private static final Pattern USER_INFO = Pattern.compile("([a-zA-Z][a-zA-Z0-9+.-]*://)([^\\s/@?#]*)@");
    private static final Pattern PASSWORD_PARAMETER = Pattern.compile("(?i)([?&;](password|pwd)=)[^&\\s]*");
    public static final String MASK = "***";

    private Secrets() {
    }

    /**
     * The text with the password of every URI in it masked ({@code redis://user:***@host}, {@code redis://***@host}
     * when the user information is a password alone, as Redis URIs allow) and {@code password=} parameters too.
     */
    public static String redact(String text) {
        if (text == null) {
            return null;
        }
        Matcher m = USER_INFO.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String info = m.group(2);
            int colon = info.indexOf(':');
            String masked = colon < 0 ? MASK : info.substring(0, colon + 1) + MASK;
            m.appendReplacement(out, Matcher.quoteReplacement(m.group(1) + masked + "@"));
        }
        m.appendTail(out);
        return PASSWORD_PARAMETER.matcher(out).replaceAll("$1" + MASK);
    }
}
