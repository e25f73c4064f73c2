package dev.featurepipe.app;

import ch.qos.logback.classic.pattern.MessageConverter;
import ch.qos.logback.classic.pattern.ThrowableProxyConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import dev.featurepipe.core.Secrets;

/**
 * The log's message and stack trace with credentials masked ({@link Secrets#redact}), whatever logged them: a
 * library's exception may quote a URI it was given (logback.xml uses these for {@code %msg} and {@code %ex}).
 */
public final class RedactedLog {
    private RedactedLog() {
    }

    public static final class Message extends MessageConverter {
        @Override
        public String convert(ILoggingEvent event) {
            return Secrets.redact(super.convert(event));
        }
    }

    public static final class Trace extends ThrowableProxyConverter {
        @Override
        protected String throwableProxyToString(IThrowableProxy proxy) {
            return Secrets.redact(super.throwableProxyToString(proxy));
        }
    }
}
