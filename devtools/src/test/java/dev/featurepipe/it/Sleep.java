package dev.featurepipe.it;

/** Sleeps for the tests' own threads (senders, pollers), which have no caller to hand an interrupt to. */
final class Sleep {
    private Sleep() {
    }

    /** Sleeps ms milliseconds; an interrupt ends the sleep early and stays set. */
    static void millis(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
