package dev.featurepipe.ingest;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.auth.Access;
import dev.featurepipe.core.BacklogFullException;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.EventLog;
import dev.featurepipe.core.FieldError;
import dev.featurepipe.core.PartlyAppendedException;
import dev.featurepipe.core.UnreplicatedAppendException;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.http.ApiException;
import dev.featurepipe.http.RefusedException;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.InputStream;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Validates a request's events against the registry and appends the valid ones to the event log in one atomic
 * step. By default a request is all or nothing; in partial mode the valid events go in and each rejected one is
 * reported. The body is read as a stream, one event at a time, so a limit stops the read as soon as it is crossed.
 */
public final class IngestService {
    /**
     * Problems reported: an event's first ones, and a refused request's first ones, except in partial mode, which
     * lists every rejected event; the message still counts every invalid event.
     */
    private static final int MAX_ERRORS_PER_EVENT = 10;
    private static final int MAX_ERRORS_PER_REFUSAL = 100;

    private final Registry registry;
    private final EventValidator validator;
    private final EventLog log;
    private final EventReader reader;
    private final Clock clock;
    private final MeterRegistry metrics;

    /** @param json a mapper whose parsers carry the limits of {@link dev.featurepipe.http.RequestBodies} */
    public IngestService(Registry registry, EventValidator validator, EventLog log, ObjectMapper json, Clock clock,
                         int maxEvents, MeterRegistry metrics) {
        this.registry = registry;
        this.validator = validator;
        this.log = log;
        this.reader = new EventReader(json, maxEvents);
        this.clock = clock;
        this.metrics = metrics;
    }

    /** The outcome of an accepted request. */
    public record Outcome(int accepted, int duplicates, List<String> ids, List<FieldError> rejected) {
    }

    /**
     * @param body the request body, read as a stream: each event is checked as it is read
     * @param ndjson whether the body is one JSON event per line, else one event or an array of them
     * @param access the entities the caller may write
     * @throws ApiException 400 for invalid input (nothing written), 403 for an event of an entity the caller may
     *     not write, 413 for too many events
     */
    public Outcome ingest(InputStream body, boolean ndjson, boolean partial, Access access) {
        long now = clock.millis();
        List<Event> valid = new ArrayList<>();
        List<Integer> validIndexes = new ArrayList<>(); // in the request
        List<FieldError> errors = new ArrayList<>();
        int events;
        try {
            events = reader.read(body, ndjson, (index, node) -> {
                registry.eventType(node.path("event_type").asText()).ifPresent(type -> access.requireEntity(type.entity()));
                EventValidator.Result r = validator.validate(index, node, now);
                if (r.valid()) {
                    valid.add(r.event());
                    validIndexes.add(index);
                } else {
                    r.errors().forEach(e -> metrics.counter("featurepipe.ingest.invalid.fields", "field", validator.metricName(e.field())).increment());
                    errors.addAll(r.errors().subList(0, Math.min(r.errors().size(), MAX_ERRORS_PER_EVENT)));
                }
            });
        } catch (RefusedException e) {
            throw e;
        } catch (ApiException e) {
            metrics.counter("featurepipe.ingest.requests.rejected").increment();
            throw e;
        }
        if (events == 0) {
            throw rejected("the request holds no events", List.of());
        }
        int invalidEvents = events - valid.size();
        if (invalidEvents > 0 && (!partial || valid.isEmpty())) {
            count("rejected", events);
            throw rejected(invalidEvents + " of " + events + " events are invalid; nothing was written",
                    partial ? errors : errors.subList(0, Math.min(errors.size(), MAX_ERRORS_PER_REFUSAL)));
        }
        List<EventLog.Appended> appended;
        try {
            appended = log.append(valid);
        } catch (BacklogFullException e) {
            metrics.counter("featurepipe.ingest.backpressure").increment();
            count("refused", valid.size());
            throw e;
        } catch (PartlyAppendedException e) {
            throw partlyAppended(e, valid, validIndexes);
        } catch (UnreplicatedAppendException e) {
            throw unreplicated(e, valid, validIndexes);
        }
        int duplicates = (int) appended.stream().filter(EventLog.Appended::duplicate).count();
        count("accepted", valid.size() - duplicates);
        count("duplicate", duplicates);
        count("rejected", invalidEvents);
        return new Outcome(valid.size(), duplicates, appended.stream().map(EventLog.Appended::position).toList(), errors);
    }

    /**
     * What a client needs to know when some shards took their events and another failed: which are in. When the
     * other's events are on its master but not yet on enough replicas, they are listed too, with replicated false.
     */
    private ApiException partlyAppended(PartlyAppendedException e, List<Event> valid, List<Integer> validIndexes) {
        List<Map<String, Object>> in = details(e.appended(), valid, validIndexes, null);
        int duplicates = duplicates(e.appended());
        if (e.getCause() instanceof UnreplicatedAppendException u) {
            in.addAll(details(u.appended(), valid, validIndexes, false));
            countUnreplicated(u);
        }
        count("accepted", e.appended().size() - duplicates);
        count("duplicate", duplicates);
        count("refused", valid.size() - in.size());
        metrics.counter("featurepipe.ingest.partly.appended").increment();
        return new ApiException(503, e.getMessage() + "; the appended ones are listed in details, the others were"
                + " not: sending the same request again appends each event once", in, Map.of("Retry-After", "1"));
    }

    /** The events are on the master only: the client should send them again, which is safe (they dedupe). */
    private ApiException unreplicated(UnreplicatedAppendException e, List<Event> valid, List<Integer> validIndexes) {
        countUnreplicated(e);
        count("refused", valid.size() - e.appended().size());
        return new ApiException(503, e.getMessage(), details(e.appended(), valid, validIndexes, false),
                Map.of("Retry-After", "1"));
    }

    private void countUnreplicated(UnreplicatedAppendException e) {
        metrics.counter("featurepipe.ingest.unreplicated").increment();
        count("unreplicated", e.appended().size());
    }

    /** @param replicated null: not said (they are replicated as far as was asked) */
    private static List<Map<String, Object>> details(Map<Integer, EventLog.Appended> appended, List<Event> valid,
                                                     List<Integer> validIndexes, Boolean replicated) {
        List<Map<String, Object>> in = new ArrayList<>();
        new TreeMap<>(appended).forEach((i, a) -> { // in request order
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("index", validIndexes.get(i));
            d.put("event_id", valid.get(i).id());
            d.put("position", a.position());
            d.put("duplicate", a.duplicate());
            if (replicated != null) {
                d.put("replicated", replicated);
            }
            in.add(d);
        });
        return in;
    }

    private static int duplicates(Map<Integer, EventLog.Appended> appended) {
        return (int) appended.values().stream().filter(EventLog.Appended::duplicate).count();
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
