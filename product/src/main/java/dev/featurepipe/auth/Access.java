package dev.featurepipe.auth;

import io.javalin.http.Context;

/** What the caller of one request may touch, beyond the scope its route needed. */
public interface Access {
    /** Everything: access control is off. */
    Access ANY = entity -> { };

    /** @throws dev.featurepipe.http.RefusedException 403 when the caller may not use this entity's data */
    void requireEntity(String entity);

    /** The access the {@link Authenticator} granted to this request. */
    static Access of(Context ctx) {
        Access access = ctx.attribute(Authenticator.ACCESS);
        if (access == null) {
            throw new IllegalStateException("route " + ctx.path() + " has no scope, so nobody checked its access");
        }
        return access;
    }
}
