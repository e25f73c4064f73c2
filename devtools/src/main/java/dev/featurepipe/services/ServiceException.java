package dev.featurepipe.services;

import dev.featurepipe.core.FeaturepipeException;

/** A local service could not be installed, started or stopped; the message says what to do. */
public class ServiceException extends FeaturepipeException {
    public ServiceException(String message) {
        super(message);
    }

    public ServiceException(String message, Throwable cause) {
        super(message, cause);
    }
}
