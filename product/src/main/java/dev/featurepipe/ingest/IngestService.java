package dev.featurepipe.ingest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.core.BacklogFullException;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.EventLog;
import dev.featurepipe.core.FieldError;
import dev.featurepipe.http.ApiException;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/**
 * Validates a request's events against the registry and appends the valid ones to the event log in one atomic
 * step. By default a request is all or nothing; in partial mode the valid events go in and each rejected one is
 * reported.
 */
public final class IngestService {
    private final EventValidator validator;
    private final EventLog log;
    private final ObjectMapper json;
    private final Clock clock;
    private final int maxEvents;
    private final MeterRegistry metrics;

    public IngestService(EventValidator validator, EventLog log, ObjectMapper json, Clock clock, int maxEvents,
                         MeterRegistry metrics) {
        this.validator = validator;
        this.log = log;
        this.json = json;
        this.clock = clock;
        this.maxEvents = maxEvents;
        this.metrics = metrics;
    }

    /** The outcome of an accepted request. */
    public record Outcome(int accepted, int duplicates, List<String> ids, List<FieldError> rejected) {
    }

    /**
     * @param ndjson whether the body is one JSON event per line, else one event or an array of them
     * @throws ApiException 400 for invalid input (nothing written), 413 for too many events
     */
    public Outcome ingest(byte[] body, boolean ndjson, boolean partial) {
        List<JsonNode> nodes = ndjson ? parseLines(body) : parseDocument(body);
        if (nodes.isEmpty()) {
            throw rejected("the request holds no events", List.of());
        }
        if (nodes.size() > maxEvents) {
            count("rejected", nodes.size());
            throw new ApiException(413, "the request holds " + nodes.size() + " events; at most " + maxEvents
                    + " are allowed per request (FP_INGEST_MAX_EVENTS)", List.of());
        }
        long now = clock.millis();
        List<Event> valid = new ArrayList<>(nodes.size());
        List<FieldError> errors = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            EventValidator.Result r = validator.validate(i, nodes.get(i), now);
            if (r.valid()) {
                valid.add(r.event());
            } else {
                errors.addAll(r.errors());
                r.errors().forEach(e -> metrics.counter("featurepipe.ingest.invalid.fields", "field", validator.metricName(e.field())).increment());
            }
        }
        int invalidEvents = nodes.size() - valid.size();
        if (invalidEvents > 0 && (!partial || valid.isEmpty())) {
            count("rejected", nodes.size());
            throw rejected(invalidEvents + " of " + nodes.size() + " events are invalid; nothing was written", errors);
        }
        List<EventLog.Appended> appended;
        try {
            appended = log.append(valid);
        } catch (BacklogFullException e) {
            metrics.counter("featurepipe.ingest.backpressure").increment();
            count("refused", valid.size());
            throw e;
        }
        int duplicates = (int) appended.stream().filter(EventLog.Appended::duplicate).count();
        count("accepted", valid.size() - duplicates);
        count("duplicate", duplicates);
        count("rejected", invalidEvents);
        return new Outcome(valid.size(), duplicates, appended.stream().map(EventLog.Appended::position).toList(), errors);
    }

    private List<JsonNode> parseDocument(byte[] body) {
        refuseUtf16Or32(body, 0, body.length, "the body");
        JsonNode root;
        try {
            root = json.readTree(body);
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? ""
                    : " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
            throw rejected("the body is not one JSON event or array (use application/x-ndjson for one event per line): "
                    + e.getOriginalMessage() + where, List.of());
        } catch (java.io.IOException e) {
            throw rejected("the body cannot be read: " + e.getMessage(), List.of());
        }
        if (root == null || root.isMissingNode()) {
            return List.of();
        }
        List<JsonNode> nodes = new ArrayList<>();
        if (root.isArray()) {
            root.forEach(nodes::add);
        } else {
            nodes.add(root);
        }
        return nodes;
    }

    private List<JsonNode> parseLines(byte[] body) {
        List<JsonNode> nodes = new ArrayList<>();
        int line = 0;
        for (int start = 0; start < body.length; ) {
            int end = start;
            while (end < body.length && body[end] != '\n') {
                end++;
            }
            line++;
            if (!isBlank(body, start, end)) {
                refuseUtf16Or32(body, start, end, "line " + line);
                try {
                    nodes.add(json.readTree(body, start, end - start)); // from the bytes: Jackson checks the UTF-8
                } catch (java.io.IOException e) {
                    String why = e instanceof JsonProcessingException p ? p.getOriginalMessage() : e.getMessage();
                    throw rejected("line " + line + " is not JSON: " + why,
                            List.of(new FieldError(nodes.size(), "$", "line " + line + " is not JSON")));
                }
            }
            start = end + 1;
        }
        return nodes;
    }

    private static boolean isBlank(byte[] body, int start, int end) {
        for (int i = start; i < end; i++) {
            if (body[i] != ' ' && body[i] != '\t' && body[i] != '\r') {
                return false;
            }
        }
        return true;
    }

    /**
     * JSON on the wire is UTF-8 (RFC 8259), but Jackson reads UTF-16 or UTF-32 where NUL bytes or a byte-order mark
     * start the text; refused here, so a body is never read in an encoding its sender did not mean.
     */
    private void refuseUtf16Or32(byte[] body, int start, int end, String what) {
        boolean wide = end - start >= 2 && ((body[start] & 0xff) == 0xfe || (body[start] & 0xff) == 0xff)
                && ((body[start + 1] & 0xff) == 0xfe || (body[start + 1] & 0xff) == 0xff);
        for (int i = start; i < Math.min(end, start + 4) && !wide; i++) {
            wide = body[i] == 0;
        }
        if (wide) {
            throw rejected(what + " is not UTF-8 JSON (it starts like UTF-16 or UTF-32)", List.of());
        }
    }

    private ApiException rejected(String message, List<FieldError> errors) {
        metrics.counter("featurepipe.ingest.requests.rejected").increment();
        return new ApiException(400, message, errors);
    }

    private void count(String outcome, int n) {
        if (n > 0) {
            metrics.counter("featurepipe.ingest.events", "outcome", outcome).increment(n);
        }
    }
}
