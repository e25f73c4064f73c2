package dev.featurepipe.chaos;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A steady stream of events with a known ground truth, as Flink's end-to-end tests keep one: every entity's events
 * carry its sequence numbers 1, 2, 3, ... and each client owns some entities, so that what each store should hold
 * is known exactly. A client sends a request until it is answered 202, always with the same event ids (as a client
 * that lost the answer to a crash must); only a 202 makes its events accepted.
 */
final class ChaosLoad {
    static final String ENTITY = "account";
    static final String EVENT_TYPE = "tick";
    private static final int EVENTS_PER_REQUEST = 20;

    private final URI ingest;
    private final List<List<String>> entitiesByClient;
    private final double eventsPerSecond;
    private final ObjectMapper json = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    /** Per entity, the sequence numbers accepted. Each client writes only its own entities. */
    private final Map<String, Set<Long>> accepted = new ConcurrentHashMap<>();
    private final Map<String, Long> nextSeq = new ConcurrentHashMap<>();
    private final AtomicLong resent = new AtomicLong();
    private final AtomicLong refusedInvalid = new AtomicLong();
    private final Map<Integer, Long> statuses = new TreeMap<>();
    private final List<Thread> clients = new ArrayList<>();
    private volatile boolean running;
    /** While true, every fifth request first goes with one invalid event among the good ones, which must be a 400. */
    private volatile boolean poison;

    ChaosLoad(URI ingest, String run, int entities, int clients, double eventsPerSecond) {
        this.ingest = ingest.resolve("/v1/events");
        this.eventsPerSecond = eventsPerSecond;
        this.entitiesByClient = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            entitiesByClient.add(new ArrayList<>());
        }
        for (int e = 0; e < entities; e++) {
            String id = run + "-" + e;
            entitiesByClient.get(e % clients).add(id);
            accepted.put(id, ConcurrentHashMap.newKeySet());
            nextSeq.put(id, 1L);
        }
    }

    /** Starts the clients; each sends its share of the rate on a fixed schedule. */
    synchronized void start() {
        running = true;
        for (int c = 0; c < entitiesByClient.size(); c++) {
            List<String> mine = entitiesByClient.get(c);
            Thread t = new Thread(() -> send(mine), "chaos-client-" + c);
            t.setDaemon(true);
            clients.add(t);
            t.start();
        }
    }

    /** Stops the clients once each has had its request in flight answered 202. */
    synchronized void stop() throws InterruptedException {
        running = false;
        for (Thread t : clients) {
            t.join();
        }
        clients.clear();
    }

    void poison(boolean on) {
        poison = on;
    }

    private void send(List<String> entities) {
        long interval = (long) (1e9 * EVENTS_PER_REQUEST * entitiesByClient.size() / eventsPerSecond);
        long next = System.nanoTime();
        int cursor = 0;
        for (long request = 0; running; request++) {
            List<String[]> events = new ArrayList<>(); // {entity, seq}
            ArrayNode body = json.createArrayNode();
            for (int i = 0; i < EVENTS_PER_REQUEST; i++) {
                String entity = entities.get(cursor++ % entities.size());
                long seq = nextSeq.merge(entity, 1L, Long::sum) - 1;
                events.add(new String[] {entity, Long.toString(seq)});
                body.add(event(entity, seq));
            }
            if (poison && request % 5 == 0) {
                ArrayNode withBad = body.deepCopy();
                withBad.insert(EVENTS_PER_REQUEST / 2, event(entities.get(0), 0).put("seq", "not a number"));
                if (post(withBad.toString()) == 400) {
                    refusedInvalid.incrementAndGet();
                } else {
                    throw new IllegalStateException("a request with an invalid event was not refused with 400");
                }
            }
            String text = body.toString();
            for (int attempt = 0; post(text) != 202; attempt++) {
                resent.incrementAndGet();
                sleepNanos(Math.min(1_000_000_000L, 50_000_000L << Math.min(attempt, 5)));
            }
            events.forEach(e -> accepted.get(e[0]).add(Long.parseLong(e[1])));
            next = Math.max(next + interval, System.nanoTime() - interval); // after an outage: no burst to catch up
            sleepNanos(next - System.nanoTime());
        }
    }

    private ObjectNode event(String entity, long seq) {
        return json.createObjectNode().put("event_id", eventId(entity, seq)).put("event_type", EVENT_TYPE)
                .put("account_id", entity).put("seq", seq);
    }

    /** The status, or -1 when no answer came (refused, reset, timed out). */
    private int post(String body) {
        int status;
        try {
            status = http.send(HttpRequest.newBuilder(ingest).timeout(Duration.ofSeconds(10))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.discarding())
                    .statusCode();
        } catch (IOException e) {
            status = -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
        synchronized (statuses) {
            statuses.merge(status, 1L, Long::sum);
        }
        return status;
    }

    private static void sleepNanos(long nanos) {
        if (nanos > 0) {
            LockSupport.parkNanos(nanos);
        }
    }

    /** Per entity, the accepted sequence numbers (read after {@link #stop()}). */
    Map<String, Set<Long>> accepted() {
        return accepted;
    }

    long acceptedEvents() {
        return accepted.values().stream().mapToLong(Set::size).sum();
    }

    long resent() {
        return resent.get();
    }

    long refusedInvalid() {
        return refusedInvalid.get();
    }

    /** Answers by HTTP status (-1: none), since the start. */
    Map<Integer, Long> statuses() {
        synchronized (statuses) {
            return new TreeMap<>(statuses);
        }
    }

    static String eventId(String entity, long seq) {
        return entity + "-" + seq;
    }
}
