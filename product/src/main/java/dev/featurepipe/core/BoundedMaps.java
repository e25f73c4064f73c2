package dev.featurepipe.core;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** Memory for a cache of what a store knows already: bounded, and safe to share between threads. */
public final class BoundedMaps {
    private BoundedMaps() {
    }

    /** A synchronized map of at most {@code max} entries; the one used least recently is forgotten first. */
    public static <K, V> Map<K, V> leastRecentlyUsedFirst(int max) {
        return Collections.synchronizedMap(new LinkedHashMap<>(1024, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
                return size() > max;
            }
        });
    }
}
