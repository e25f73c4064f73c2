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
import java.nio.charset.StandardCharsets;
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
        String[] lines = new String(body, StandardCharsets.UTF_8).split("\n");
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].isBlank()) {
                continue;
            }
            try {
                nodes.add(json.readTree(lines[i]));
            } catch (JsonProcessingException e) {
                throw rejected("line " + (i + 1) + " is not JSON: " + e.getOriginalMessage(),
                        List.of(new FieldError(nodes.size(), "$", "line " + (i + 1) + " is not JSON")));
            }
        }
        return nodes;
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
