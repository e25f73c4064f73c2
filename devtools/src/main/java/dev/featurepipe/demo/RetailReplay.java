package dev.featurepipe.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.featurepipe.core.FeaturepipeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * Replays the UCI Online Retail file through the HTTP ingestion API, in batches with a few requests in flight,
 * in partial mode so that invalid rows are rejected and counted while the rest goes in.
 */
public final class RetailReplay {
    /** How to replay: which rows, and whether to keep the original times. */
    public record Options(Path file, long limit, boolean originalTime, int batchSize, int inFlight) {
    }

    private static final int LAST_CUSTOMERS = 3;

    private final ObjectMapper json;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final URI eventsUri;
    private final Clock clock;

    public RetailReplay(ObjectMapper json, URI apiBase, Clock clock) {
        this.json = json;
        this.eventsUri = apiBase.resolve("/v1/events?mode=partial");
        this.clock = clock;
    }

    /** Counts the rows to replay and finds the latest time among them (for the shift to "now"). */
    public record Scan(long rows, long lastTime) {
    }

    public Scan scan(Options options) {
        long rows = 0;
        long last = Long.MIN_VALUE;
        try (MappingIterator<RetailRow> it = RetailFile.open(options.file())) {
            while (it.hasNext() && rows < options.limit()) {
                last = Math.max(last, RetailEvents.time(it.next()));
                rows++;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + options.file(), e);
        }
        return new Scan(rows, last);
    }

    /**
     * @param progress told how many rows each finished batch held
     */
    public ReplaySummary replay(Options options, Scan scan, LongConsumer progress) {
        long shift = options.originalTime() || scan.lastTime() < 0 ? 0 : clock.millis() - scan.lastTime();
        RetailEvents events = new RetailEvents(json);
        Tally tally = new Tally();
        Deque<String> lastCustomers = new ArrayDeque<>();
        List<CompletableFuture<Void>> inFlight = new ArrayList<>();
        long started = System.nanoTime();
        long read = 0;
        ExecutorService senders = Executors.newFixedThreadPool(options.inFlight());
        try (MappingIterator<RetailRow> it = RetailFile.open(options.file())) {
            ArrayNode batch = json.createArrayNode();
            while (it.hasNext() && read < options.limit()) {
                ObjectNode e = events.event(it.next(), shift);
                read++;
                remember(lastCustomers, e.path("customer_id").asText(null));
                batch.add(e);
                if (batch.size() == options.batchSize()) {
                    send(batch, tally, progress, inFlight, senders, options.inFlight());
                    batch = json.createArrayNode();
                }
            }
            if (!batch.isEmpty()) {
                send(batch, tally, progress, inFlight, senders, options.inFlight());
            }
            inFlight.forEach(CompletableFuture::join);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + options.file(), e);
        } finally {
            senders.shutdownNow();
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        return new ReplaySummary(read, tally.accepted.get(), tally.duplicates.get(), tally.reasons(), seconds,
                List.copyOf(lastCustomers));
    }

    private static void remember(Deque<String> last, String customer) {
        if (customer == null || customer.equals(last.peekFirst())) {
            return;
        }
        last.remove(customer);
        last.addFirst(customer);
        if (last.size() > LAST_CUSTOMERS) {
            last.removeLast();
        }
    }

    /** Hands the batch to a sender thread, first waiting for the oldest request when all senders are busy. */
    private void send(ArrayNode batch, Tally tally, LongConsumer progress, List<CompletableFuture<Void>> inFlight,
                      ExecutorService senders, int maxInFlight) {
        while (inFlight.size() >= maxInFlight) {
            inFlight.remove(0).join();
        }
        byte[] body = batch.toString().getBytes(StandardCharsets.UTF_8);
        int size = batch.size();
        inFlight.add(CompletableFuture.runAsync(() -> {
            tally.add(post(body), size);
            progress.accept(size);
        }, senders));
    }

    /** Posts one batch, retrying while the API answers 503 (backpressure or a store briefly away). */
    private JsonNode post(byte[] body) {
        HttpRequest request = HttpRequest.newBuilder(eventsUri).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
        for (int attempt = 1; ; attempt++) {
            HttpResponse<String> response;
            try {
                response = http.send(request, HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                throw new UncheckedIOException("the ingestion API at " + eventsUri + " did not answer", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new FeaturepipeException("replay interrupted");
            }
            if (response.statusCode() == 503 && attempt < 30) {
                sleep(Duration.ofSeconds(1));
                continue;
            }
            if (response.statusCode() != 202 && response.statusCode() != 400) {
                throw new FeaturepipeException("the ingestion API answered " + response.statusCode() + ": " + response.body());
            }
            try {
                return json.readTree(response.body());
            } catch (IOException e) {
                throw new FeaturepipeException("the ingestion API answered something that is not JSON: " + response.body());
            }
        }
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Counts shared by the batches in flight. */
    private static final class Tally {
        final AtomicLong accepted = new AtomicLong();
        final AtomicLong duplicates = new AtomicLong();
        private final Map<String, Long> byReason = new TreeMap<>();

        /** A 202 lists rejected events under "rejected", a 400 (no valid event) under "details". */
        void add(JsonNode response, int batchSize) {
            accepted.addAndGet(response.path("accepted").asLong());
            duplicates.addAndGet(response.path("duplicates").asLong());
            JsonNode errors = response.has("rejected") ? response.get("rejected") : response.path("details");
            Set<Integer> seen = new HashSet<>();
            Map<String, Long> reasons = new LinkedHashMap<>();
            for (JsonNode error : errors) {
                if (seen.add(error.path("index").asInt())) {
                    String reason = error.path("reason").asText();
                    int got = reason.indexOf(", got");
                    reasons.merge(error.path("field").asText() + ": " + (got > 0 ? reason.substring(0, got) : reason), 1L, Long::sum);
                }
            }
            if (response.has("error") && errors.isEmpty()) {
                reasons.merge("request: " + response.path("error").asText(), (long) batchSize, Long::sum);
            }
            synchronized (byReason) {
                reasons.forEach((k, v) -> byReason.merge(k, v, Long::sum));
            }
        }

        Map<String, Long> reasons() {
            synchronized (byReason) {
                return new TreeMap<>(byReason);
            }
        }
    }
}
