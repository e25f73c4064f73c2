package dev.featurepipe.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RateLimiterTest {
    private final AtomicLong now = new AtomicLong(1_000);
    private final RateLimiter limiter = new RateLimiter(2, 3, now::get);

    @Test
    void aBurstPassesThenTheRateAndTheWaitIsTheTimeToTheNextToken() {
        assertThat(limiter.take("a")).isZero();
        assertThat(limiter.take("a")).isZero();
        assertThat(limiter.take("a")).isZero();
        assertThat(limiter.take("a")).isEqualTo(1); // 2 tokens a second: the next in 0.5 s, rounded up
        assertThat(limiter.take("b")).isZero(); // each key has its own bucket

        now.addAndGet(TimeUnit.MILLISECONDS.toNanos(500));
        assertThat(limiter.take("a")).isZero();
        assertThat(limiter.take("a")).isEqualTo(1);

        now.addAndGet(TimeUnit.SECONDS.toNanos(60)); // a quiet minute refills to the burst, not beyond
        for (int i = 0; i < 3; i++) {
            assertThat(limiter.take("a")).isZero();
        }
        assertThat(limiter.take("a")).isEqualTo(1);
    }

    @Test
    void aSlowRateWaitsWholeSeconds() {
        RateLimiter slow = new RateLimiter(0.25, 1, now::get);
        assertThat(slow.take("a")).isZero();
        assertThat(slow.take("a")).isEqualTo(4);
    }
}
