package dev.featurepipe.core;

/** Root of every exception featurepipe throws on purpose; subtypes say what a caller can do about it. */
public class FeaturepipeException extends RuntimeException {
    public FeaturepipeException(String message) {
        super(message);
    }

    public FeaturepipeException(String message, Throwable cause) {
        super(message, cause);
    }
}
