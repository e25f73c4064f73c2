package dev.featurepipe.hostile;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Writes the hostile corpus: requests that every build must refuse with a 4xx JSON error, writing nothing, against
 * every route of the API, for the demo's registry ({@code registry/retail.yaml}) and the limits in
 * {@link #SETTINGS}. The same seed gives the same corpus, byte for byte; the committed corpus is checked against
 * it. Written by {@code ./fp hostile-corpus} to {@value #DEFAULT_FILE}.
 */
public final class CorpusGenerator {
    public static final long SEED = 20261203L;
    public static final String DEFAULT_FILE = "devtools/src/test/resources/hostile/corpus.jsonl.gz";
    /** The settings the corpus assumes (so that a body over the limit stays small): FP_* name to value. */
    public static final Map<String, String> SETTINGS = Map.of("FP_HTTP_MAX_BODY_MB", "1", "FP_INGEST_MAX_EVENTS", "100",
            "FP_SERVE_MAX_IDS", "50");
    private static final int MAX_BODY = 1 << 20;
    private static final String JSON_TYPE = "application/json";
    private static final String NDJSON_TYPE = "application/x-ndjson";
    private static final String AUTH = "FP_AUTH";
    private static final String MAX_ABS_NUMBER = "FP_MAX_ABS_NUMBER";
    private static final String RAW_VALUE = "__raw_value__";
    /**
     * Where the HTTP server refuses a request before the API sees it (a bad URI, request line, header or framing),
     * its answer is the API's JSON error only where the server's own limits are settings: these cases need them.
     */
    private static final String SERVER_LIMITS = "FP_HTTP_MAX_HEADER_KB";
    private static final String URI_LIMIT = "FP_HTTP_MAX_URI_KB";
    private static final Set<String> REFUSED_BY_THE_SERVER = Set.of("control-characters/GET id \"a\\u0000b\"",
            "control-characters/GET id \"\\uD800\"", "path-tricks/GET /v1/features/customer/%?features=nope",
            "path-tricks/GET /v1/features/customer/%zz?features=nope", "path-tricks/GET /v1/features/customer/%c0%af?features=nope",
            "path-tricks/GET /v1/features/customer/%ff?features=nope", "path-tricks/GET /v1/features/customer/c-1;x=1/..;/?features=nope",
            "path-tricks/GET /../../etc/passwd?features=nope", "path-tricks/GET /v1/events%00?features=nope",
            "path-tricks/GET /v1/features/customer/%u0041?features=nope");

    /** Values a store or a query language could read as syntax: Redis, SQL, hash tags, Mongo operators, paths. */
    static final List<String> METACHARACTERS = List.of(
            "*", "?", "[a-z]", "\r\n*1\r\n$8\r\nFLUSHALL\r\n", "FLUSHALL", "fp:events", "{customer}", "{", "}", "{}",
            "a{b}c", "}{", "{{x}}", "' OR '1'='1", "'; DROP TABLE events; --", "\\'", "\"", "`", "\\", "%", "_",
            "1; SELECT 1", "{events}", "{as_of}", "$where", "$gt", "__proto__", "../../etc/passwd", "..", "/", "%00",
            "${jndi:ldap://127.0.0.1/a}", "<script>alert(1)</script>", "\u202e\u0644", "NaN");

    private final Random random;
    /** Writes every character beyond ASCII as an escape, so a lone surrogate can be sent. */
    private final ObjectMapper json = JsonMapper.builder().enable(JsonWriteFeature.ESCAPE_NON_ASCII).build();
    private final List<HostileCase> cases = new ArrayList<>();
    private final Map<String, Integer> names = new LinkedHashMap<>();
    private int events;

    private CorpusGenerator(long seed) {
        this.random = new Random(seed);
    }

    /** The corpus of a seed. */
    public static List<HostileCase> cases(long seed) {
        CorpusGenerator g = new CorpusGenerator(seed);
        g.ingest();
        g.serve();
        g.feast();
        g.methods();
        g.pathTricks();
        g.raw();
        g.auth();
        return List.copyOf(g.cases);
    }

    // ---- a request under construction -------------------------------------------------------------------------

    private final class Request {
        private final String category;
        private final String name;
        private String method;
        private String path;
        private final Map<String, String> headers = new LinkedHashMap<>();
        private Bytes body = new Bytes();
        private Bytes raw;
        private String key = "all";
        private String requires;
        private String expect = "400";

        Request(String category, String name, String method, String path) {
            this.category = category;
            this.name = name;
            this.method = method;
            this.path = path;
        }

        Request header(String name, String value) {
            headers.put(name, value);
            return this;
        }

        Request json(Bytes body) {
            return header("Content-Type", JSON_TYPE).body(body);
        }

        Request body(Bytes body) {
            this.body = body;
            return this;
        }

        Request key(String key) {
            this.key = key;
            return this;
        }

        Request requires(String setting) {
            this.requires = setting;
            return this;
        }

        Request expect(String status) {
            this.expect = status;
            return this;
        }

        void add() {
            if (!key.equals("none") && raw == null && !headers.containsKey("Authorization") && !headers.containsKey("X-API-Key")) {
                headers.put("Authorization", "Bearer " + HostileCase.KEY);
            }
            if (requires == null && (raw != null || REFUSED_BY_THE_SERVER.contains(category + "/" + name))) {
                requires = expect.equals("414") ? URI_LIMIT : SERVER_LIMITS;
            }
            int n = names.merge(category + "/" + name, 1, Integer::sum);
            String unique = n == 1 ? category + "/" + name : category + "/" + name + "#" + n;
            cases.add(new HostileCase(unique, category, key, requires, expect, raw == null ? method : null,
                    raw == null ? path : null, raw == null ? Map.copyOf(headers).isEmpty() ? Map.of() : new LinkedHashMap<>(headers) : null,
                    raw == null ? body.segments() : null, raw == null ? null : raw.segments()));
        }
    }

    private Request request(String category, String name, String method, String path) {
        return new Request(category, name, method, path);
    }

    // ---- events -----------------------------------------------------------------------------------------------

    /** A valid purchase of the demo's registry, with an id of its own. */
    private ObjectNode purchase() {
        ObjectNode e = JsonNodeFactory.instance.objectNode();
        e.put("event_id", "hostile-" + (++events));
        e.put("event_type", "purchase");
        e.put("customer_id", "c-hostile");
        e.put("ts", 1_733_000_000_000L + events);
        e.put("invoice", "536365");
        e.put("stock_code", "85123A");
        e.put("description", "WHITE HANGING HEART T-LIGHT HOLDER");
        e.put("quantity", 6);
        e.put("unit_price", 2.55);
        e.put("amount", "15.30");
        e.put("country", "United Kingdom");
        return e;
    }

    private ObjectNode purchase(Consumer<ObjectNode> change) {
        ObjectNode e = purchase();
        change.accept(e);
        return e;
    }

    private Bytes bytes(Object node) {
        try {
            return Bytes.of(json.writeValueAsBytes(node));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A purchase whose {@code field} holds the given bytes as they are (they may not be JSON at all). */
    private Bytes rawField(String field, byte[] value) {
        ObjectNode e = purchase(p -> p.put(field, RAW_VALUE));
        return spliced(e, value);
    }

    private Bytes spliced(ObjectNode e, byte[] value) {
        String text = bytesText(e);
        int at = text.indexOf('"' + RAW_VALUE + '"');
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(text.substring(0, at).getBytes(StandardCharsets.UTF_8));
        out.writeBytes(value);
        out.writeBytes(text.substring(at + RAW_VALUE.length() + 2).getBytes(StandardCharsets.UTF_8));
        return Bytes.of(out.toByteArray());
    }

    private String bytesText(Object node) {
        try {
            return json.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** An invalid event: its name, category and bytes (which never hold a line break, so they stay one NDJSON line). */
    private record Bad(String category, String name, Bytes event, String requires, String expect) {
    }

    private final List<Bad> bad = new ArrayList<>();

    private void bad(String category, String name, Bytes event) {
        bad.add(new Bad(category, name, event, null, "400"));
    }

    private void bad(String category, String name, ObjectNode event) {
        bad(category, name, bytes(event));
    }

    // ---- ingest -----------------------------------------------------------------------------------------------

    private void ingest() {
        missingFields();
        wrongTypes();
        numbers();
        unknownNames();
        controlCharacters();
        invalidUtf8();
        invalidJson();
        huge();
        deepNesting();
        metacharactersInEvents();
        for (int i = 0; i < bad.size(); i++) {
            wrapped(bad.get(i), i);
        }
        wholeRequests();
    }

    /**
     * Each invalid event sent alone, and once more in turn after a valid one in an array, as one NDJSON line among
     * valid ones, or alone in partial mode.
     */
    private void wrapped(Bad b, int index) {
        Request single = request(b.category(), "single: " + b.name(), "POST", "/v1/events").json(b.event());
        Request array = request(b.category(), "array: " + b.name(), "POST", "/v1/events")
                .json(new Bytes().text("[").append(bytes(purchase())).text(",").append(b.event()).text("]"));
        Request ndjson = request(b.category(), "ndjson: " + b.name(), "POST", "/v1/events")
                .header("Content-Type", NDJSON_TYPE)
                .body(new Bytes().append(bytes(purchase())).text("\n").append(b.event()).text("\n").append(bytes(purchase())).text("\n"));
        Request partial = request(b.category(), "partial: " + b.name(), "POST", "/v1/events?mode=partial")
                .json(new Bytes().text("[").append(b.event()).text("]"));
        for (Request r : List.of(single, List.of(array, ndjson, partial).get(index % 3))) {
            if (b.requires() != null) {
                r.requires(b.requires());
            }
            r.expect(b.expect()).add();
        }
    }

    private static final List<String> REQUIRED = List.of("event_id", "event_type", "customer_id", "invoice", "stock_code",
            "quantity", "unit_price", "amount");

    private void missingFields() {
        for (String field : REQUIRED) {
            bad("missing-field", "no " + field, purchase(e -> e.remove(field)));
            bad("missing-field", field + " null", purchase(e -> e.putNull(field)));
        }
        bad("missing-field", "empty object", JsonNodeFactory.instance.objectNode());
        bad("missing-field", "only an event_id", JsonNodeFactory.instance.objectNode().put("event_id", "hostile-only-id"));
        bad("missing-field", "only envelope", purchase(e -> e.retain("event_id", "event_type", "customer_id", "ts")));
    }

    private void wrongTypes() {
        JsonNodeFactory f = JsonNodeFactory.instance;
        Map<String, List<Object>> wrong = new LinkedHashMap<>();
        wrong.put("event_id", List.of(42, true, f.arrayNode().add("a"), f.objectNode().put("id", "a"), "", "   ", "\t"));
        wrong.put("event_type", List.of(1, f.arrayNode().add("purchase"), f.objectNode().put("name", "purchase"), false));
        wrong.put("customer_id", List.of(1.5, true, f.objectNode().put("$ne", 0), f.arrayNode().add("c-1"), "", " ", -0.5, 1e20));
        wrong.put("quantity", List.of("6", 6.5, true, f.arrayNode().add(6), f.objectNode(), 1e2, "six"));
        wrong.put("unit_price", List.of("2.55", true, f.arrayNode().add(2.55), f.objectNode().put("value", 2.55), "NaN", "Infinity"));
        wrong.put("amount", List.of(true, f.arrayNode(), f.objectNode(), "abc", "15.301", "1,000.00", " ", "0x10", "15.30 EUR", "--1"));
        wrong.put("ts", List.of(true, f.objectNode(), f.arrayNode(), 1.5, "yesterday", "2024-01-01", "2024-13-45T00:00:00Z",
                "2024-01-01T00:00:00", -1, 253_402_300_800_000L, "+999999999-12-31T23:59:59Z", "1733000000000", "", "NaN"));
        wrong.put("description", List.of(5, f.arrayNode().add("x"), f.objectNode(), true));
        wrong.put("country", List.of(f.arrayNode().add("UK"), f.objectNode().put("name", "UK"), 44, false));
        wrong.put("invoice", List.of(536365, f.arrayNode(), true));
        wrong.put("stock_code", List.of(85123, f.objectNode(), false));
        wrong.forEach((field, values) -> {
            for (Object v : values) {
                bad("wrong-type", field + " = " + bytesText(v), purchase(e -> e.set(field, json.valueToTree(v))));
            }
        });
        for (Object top : List.of("a string", 42, true, f.nullNode(), f.arrayNode().add(f.arrayNode().add(purchase())))) {
            bad("wrong-type", "event is " + bytesText(top), bytes(top));
        }
    }

    private void numbers() {
        String[] notJson = {"NaN", "Infinity", "-Infinity", "+1", "01", "1.", ".5", "1e", "-", "0x10", "1_000", "--1", "1e+"};
        for (String field : List.of("unit_price", "quantity", "amount")) {
            for (String n : notJson) {
                bad("numbers", field + " = " + n, rawField(field, HostileCase.ascii(n)));
            }
        }
        String[] invalid = {"unit_price=1e309", "unit_price=-1e309", "unit_price=1e99999", "quantity=9223372036854775808",
                "quantity=-9223372036854775809", "quantity=1e19", "quantity=99999999999999999999999999999",
                "amount=1e400", "amount=\"1e999999999\"", "amount=\"1e-999999999\"", "amount=\"-1e999999999\"",
                "amount=\"9999999999999999999.99\"", "amount=\"-99999999999999999999\"", "amount=\"0.001\"",
                "amount=\"NaN\"", "amount=\"Infinity\"", "amount=\"-Infinity\"", "amount=\"1e2147483648\"",
                "ts=9223372036854775807", "ts=9223372036854775808", "ts=-9223372036854775808", "ts=1e30",
                "ts=\"+292278994-08-17T07:12:55.807Z\"", "ts=\"-999999999-01-01T00:00:00Z\"",
                "quantity=" + "9".repeat(1001), "unit_price=0." + "1".repeat(1100), "amount=\"" + "9".repeat(5000) + "\""};
        for (String fv : invalid) {
            int eq = fv.indexOf('=');
            String field = fv.substring(0, eq);
            String value = fv.substring(eq + 1);
            bad("numbers", field + " = " + abbreviate(value), rawField(field, HostileCase.ascii(value)));
        }
        // finite, and accepted until a bound on numbers refuses them
        String[] huge = {"unit_price=1.7976931348623157e308", "unit_price=-1.7976931348623157e308", "unit_price=1e300",
                "unit_price=-1e300", "unit_price=1e200"};
        for (String fv : huge) {
            int eq = fv.indexOf('=');
            bad.add(new Bad("numbers", fv.substring(0, eq) + " = " + fv.substring(eq + 1) + " (beyond the bound)",
                    rawField(fv.substring(0, eq), HostileCase.ascii(fv.substring(eq + 1))), MAX_ABS_NUMBER, "400"));
        }
    }

    private void unknownNames() {
        for (String type : List.of("refund", "PURCHASE", "purchase ", " purchase", "customer", "Purchase", "purchase\u0000",
                "cancellation.purchase", "*")) {
            bad("unknown-type-entity", "event_type " + bytesText(type), purchase(e -> e.put("event_type", type)));
        }
        bad("unknown-type-entity", "key of another entity", purchase(e -> {
            e.remove("customer_id");
            e.put("user_id", "u-1");
        }));
        bad("unknown-type-entity", "key field in upper case", purchase(e -> {
            e.remove("customer_id");
            e.put("CUSTOMER_ID", "c-1");
        }));
        for (String field : List.of("extra", "__proto__", "constructor", "", " ", "$where", "customer_id ", "amount.value",
                "quantity\u0000", "ts\n", "\u00e9v\u00e9nement")) {
            bad("unknown-type-entity", "undeclared field " + bytesText(field), purchase(e -> e.put(field, 1)));
        }
    }

    private void controlCharacters() {
        List<Integer> controls = new ArrayList<>(List.of(0x00, 0x01, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1b, 0x1f));
        for (int i = 0; i < 4; i++) {
            controls.add(random.nextInt(0x20));
        }
        for (int c : controls) {
            // unescaped in a string: not JSON
            byte[] value = {'"', 'a', (byte) c, 'b', '"'};
            if (c != 0x0a && c != 0x0d) { // a raw line break would split the NDJSON line in two
                bad("control-characters", String.format("raw U+%04X in description", c), rawField("description", value));
            }
        }
        for (String id : List.of("a\u0000b", "\u0000", "a\u0001", "\u001b[31mred", "a\r\nb", "a\nb", "\u007f", "a\u0085b",
                "\ud800", "a\udfffb", "a\u009fb", "a\u2028b", "\t\t")) {
            bad("control-characters", "event_id " + bytesText(id), purchase(e -> e.put("event_id", id)));
            bad("control-characters", "customer_id " + bytesText(id), purchase(e -> e.put("customer_id", id)));
        }
    }

    private void invalidUtf8() {
        List<byte[]> sequences = new ArrayList<>(List.of(
                new byte[] {(byte) 0xff}, new byte[] {(byte) 0xfe}, new byte[] {(byte) 0x80},
                new byte[] {(byte) 0xc0, (byte) 0xaf}, new byte[] {(byte) 0xc1, (byte) 0xbf},
                new byte[] {(byte) 0xe0, (byte) 0x80, (byte) 0xaf}, new byte[] {(byte) 0xed, (byte) 0xa0, (byte) 0x80},
                new byte[] {(byte) 0xed, (byte) 0xbf, (byte) 0xbf}, new byte[] {(byte) 0xf4, (byte) 0x90, (byte) 0x80, (byte) 0x80},
                new byte[] {(byte) 0xf8, (byte) 0x88, (byte) 0x80, (byte) 0x80, (byte) 0x80},
                new byte[] {(byte) 0xe2, (byte) 0x82}, new byte[] {(byte) 0xc3}));
        while (sequences.size() < 18) {
            byte[] b = new byte[1 + random.nextInt(4)];
            random.nextBytes(b);
            b[0] |= (byte) 0x80;
            if (!isUtf8(b) && indexOf(b, (byte) '\n') < 0 && indexOf(b, (byte) '"') < 0 && indexOf(b, (byte) '\\') < 0) {
                sequences.add(b);
            }
        }
        for (byte[] seq : sequences) {
            String hex = hex(seq);
            for (String field : List.of("description", "event_id", "customer_id")) {
                bad("invalid-utf8", hex + " in " + field, rawField(field, quoted(seq)));
            }
            String text = bytesText(purchase());
            bad("invalid-utf8", hex + " in a field name", new Bytes().text(text.substring(0, text.length() - 1) + ",\"x")
                    .bytes(seq).text("\":1}"));
        }
    }

    private static byte[] quoted(byte[] inner) {
        byte[] q = new byte[inner.length + 4];
        q[0] = '"';
        q[1] = 'a';
        System.arraycopy(inner, 0, q, 2, inner.length);
        q[q.length - 2] = 'b';
        q[q.length - 1] = '"';
        return q;
    }

    private void invalidJson() {
        String valid = bytesText(purchase());
        String[] broken = {valid.substring(0, valid.length() - 1), valid.substring(1), valid.replace(":", "="),
                valid.replace("\"", "'"), valid.replaceFirst(",", ",,"), valid.replace("}", ",}"), "{event_id: 1}",
                "{\"event_id\"}", "{\"event_id\":}", "{\"a\":1 \"b\":2}", "{\"event_id\":\"x\" // comment\n}".replace("\n", " "),
                "/* c */ {}", "{\"event_id\":\"\\x41\"}", "{\"event_id\":\"\\u12\"}", "{\"event_id\":\"\\uZZZZ\"}",
                "{\"event_id\":\"abc}", "[", "]", "{", "}", ":", ",", "\"", "'", "undefined", "None", "TRUE", "nul",
                "{\"event_id\":\"a\"}}", "<event/>", "event_id=1&event_type=purchase", "\u0000", "\ufeff\ufeff{}"};
        for (String b : broken) {
            bad("invalid-json", abbreviate(b), Bytes.of(b));
        }
        for (int i = 0; i < 6; i++) {
            byte[] garbage = new byte[8 + random.nextInt(64)];
            random.nextBytes(garbage);
            for (int j = 0; j < garbage.length; j++) {
                if (garbage[j] == '\n') {
                    garbage[j] = '!';
                }
            }
            garbage[0] = (byte) 0xfe; // never a start of JSON
            bad("invalid-json", "random bytes " + i, Bytes.of(garbage));
        }
    }

    private void huge() {
        for (int n : new int[] {257, 1_000, 100_000}) {
            for (String field : List.of("event_id", "customer_id")) {
                huge(field + " of " + n + " characters", field, new Bytes().text("\"").repeat("i", n).text("\""), null);
            }
        }
        bad("huge", "customer_id of 257 digits", rawField("customer_id", HostileCase.ascii("1".repeat(257))));
        huge("200,000 character description and no amount", "description", new Bytes().text("\"").repeat("d", 200_000).text("\""), "amount");
        huge("event_type of 100,000 characters", "event_type", new Bytes().text("\"").repeat("t", 100_000).text("\""), null);
        huge("array of 100,000 numbers as quantity", "quantity", new Bytes().text("[").repeat("1,", 100_000).text("1]"), null);
        huge("array of 50,000 strings as stock_code", "stock_code", new Bytes().text("[").repeat("\"x\",", 50_000).text("\"x\"]"), null);
        huge("string of 2,000,000 characters", "description", new Bytes().text("\"").repeat("s", 2_000_000).text("\""), null);
        StringBuilder fields = new StringBuilder("{");
        for (int i = 0; i < 20_000; i++) {
            fields.append(i == 0 ? "" : ",").append("\"f").append(i).append("\":").append(i);
        }
        huge("object of 20,000 fields as country", "country", Bytes.of(fields.append("}").toString()), null);
    }

    /**
     * A purchase whose field holds {@code value} as it is; {@code drop}: a required field left out. Over the body
     * limit the answer is 413, else 400.
     */
    private void huge(String name, String field, Bytes value, String drop) {
        Bytes event = withValue(field, value, drop);
        bad.add(new Bad("huge", name, event, null, HostileCase.size(event.segments()) > MAX_BODY ? "413" : "400"));
    }

    private Bytes withValue(String field, Bytes value, String drop) {
        ObjectNode e = purchase(p -> p.put(field, RAW_VALUE));
        if (drop != null) {
            e.remove(drop);
        }
        String text = bytesText(e);
        int at = text.indexOf('"' + RAW_VALUE + '"');
        return new Bytes().text(text.substring(0, at)).append(value).text(text.substring(at + RAW_VALUE.length() + 2));
    }

    private void deepNesting() {
        for (int depth : new int[] {100, 999, 1_001, 5_000, 100_000}) {
            bad("deep-nesting", "quantity in " + depth + " arrays", withValue("quantity",
                    new Bytes().repeat("[", depth).repeat("]", depth), null));
            bad("deep-nesting", "country in " + depth + " objects", withValue("country",
                    new Bytes().repeat("{\"a\":", depth).text("1").repeat("}", depth), null));
        }
        bad("deep-nesting", "body of 200,000 open brackets", new Bytes().repeat("[", 200_000));
        bad("deep-nesting", "body of 100,000 nested objects", new Bytes().repeat("{\"a\":", 100_000));
        bad("deep-nesting", "event in 50 arrays", new Bytes().repeat("[", 50).append(bytes(purchase())).repeat("]", 50));
    }

    private void metacharactersInEvents() {
        for (String m : METACHARACTERS) {
            String shown = bytesText(m);
            bad("metacharacters", "event_type " + shown, purchase(e -> e.put("event_type", m)));
            bad("metacharacters", "customer_id " + shown + " without amount", purchase(e -> {
                e.put("customer_id", m);
                e.remove("amount");
            }));
            bad("metacharacters", "event_id " + shown + " with a text quantity", purchase(e -> {
                e.put("event_id", m);
                e.put("quantity", m);
            }));
            bad("metacharacters", "field named " + shown, purchase(e -> e.put(m + "_x", m)));
        }
    }

    /** Problems of the request as a whole. */
    private void wholeRequests() {
        request("missing-field", "empty body", "POST", "/v1/events").json(new Bytes()).add();
        for (String body : List.of(" ", "\n\n", "[]", "[[]]", "[null]", "[{}]", "{}", "null", "\"\"", "0")) {
            request("missing-field", "body " + bytesText(body), "POST", "/v1/events").json(Bytes.of(body)).add();
            request("ndjson", "body " + bytesText(body), "POST", "/v1/events").header("Content-Type", NDJSON_TYPE)
                    .body(Bytes.of(body)).add();
        }
        for (String mode : List.of("bogus", "PARTIAL", "", "partial ", "all,partial", "partial%00", "1")) {
            request("unknown-type-entity", "mode " + bytesText(mode), "POST", "/v1/events?mode=" + mode.replace(" ", "%20"))
                    .json(bytes(purchase())).add();
        }
        request("huge", "101 events, one more than allowed", "POST", "/v1/events")
                .json(new Bytes().text("[").append(events(101, ",")).text("]")).expect("413").add();
        request("huge", "101 NDJSON lines, one more than allowed", "POST", "/v1/events").header("Content-Type", NDJSON_TYPE)
                .body(events(101, "\n")).expect("413").add();
        request("huge", "array of 300,000 empty objects", "POST", "/v1/events")
                .json(new Bytes().text("[").repeat("{},", 299_999).text("{}]")).expect("413").add();
        request("huge", "1 MiB of spaces then an event", "POST", "/v1/events")
                .json(new Bytes().repeat(" ", MAX_BODY).append(bytes(purchase()))).expect("413").add();
        request("huge", "2 MiB NDJSON of blank lines", "POST", "/v1/events").header("Content-Type", NDJSON_TYPE)
                .body(new Bytes().repeat("\n", 2 * MAX_BODY)).expect("413").add();
        // NDJSON: one bad line among many good ones, first, last, or a line of its own kind
        for (String line : List.of("{", "not json", "\u0000", "[]", "{}", "null", "{\"event_id\":\"x\"}", "\"x\"")) {
            for (String where : List.of("first", "middle", "last")) {
                Bytes b = new Bytes();
                if (!where.equals("first")) {
                    b.append(events(where.equals("last") ? 40 : 20, "\n")).text("\n");
                }
                b.text(line);
                if (!where.equals("last")) {
                    b.text("\n").append(events(20, "\n"));
                }
                request("ndjson", "bad line " + bytesText(line) + " " + where + " of many", "POST", "/v1/events")
                        .header("Content-Type", NDJSON_TYPE).body(b).add();
            }
            if (List.of("[]", "{}", "null", "{\"event_id\":\"x\"}", "\"x\"").contains(line)) {
                continue; // JSON, so partial mode takes the other lines: not a refusal
            }
            request("ndjson", "bad line " + bytesText(line) + " in partial mode", "POST", "/v1/events?mode=partial")
                    .header("Content-Type", NDJSON_TYPE).body(new Bytes().append(events(5, "\n")).text("\n" + line + "\n"))
                    .add();
        }
        // JSON with something after the document: a client that meant NDJSON, or junk
        request("invalid-json", "two events as JSON", "POST", "/v1/events")
                .json(new Bytes().append(bytes(purchase())).text("\n").append(bytes(purchase()))).add();
        request("invalid-json", "event then junk", "POST", "/v1/events").json(new Bytes().append(bytes(purchase())).text(" junk")).add();
        request("invalid-json", "array then ]", "POST", "/v1/events")
                .json(new Bytes().text("[").append(bytes(purchase())).text("]]")).add();
        request("invalid-json", "event then a NUL", "POST", "/v1/events").json(new Bytes().append(bytes(purchase())).text("\u0000")).add();
        request("ndjson", "valid lines with one invalid UTF-8 line", "POST", "/v1/events").header("Content-Type", NDJSON_TYPE)
                .body(new Bytes().append(events(3, "\n")).text("\n").append(rawField("description", quoted(new byte[] {(byte) 0xff})))
                        .text("\n")).add();
        // content types: a valid event sent as something else than JSON
        for (String type : List.of("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                "application/xml", "text/html", "application/json; charset=utf-16", "application/json; charset=iso-8859-1",
                "application/javascript", "garbage", "*/*", "application/octet-stream")) {
            request("method-content-type", "valid event as " + type, "POST", "/v1/events").header("Content-Type", type)
                    .body(bytes(purchase())).expect("415").add();
        }
        request("method-content-type", "NDJSON type for a JSON array", "POST", "/v1/events").header("Content-Type", NDJSON_TYPE)
                .body(new Bytes().text("[").append(events(2, ",")).text("]")).add();
        request("method-content-type", "UTF-16 body", "POST", "/v1/events").json(Bytes.of(bytesText(purchase())
                .getBytes(StandardCharsets.UTF_16LE))).add();
    }

    private Bytes events(int n, String separator) {
        Bytes b = new Bytes();
        for (int i = 0; i < n; i++) {
            b.text(i == 0 ? "" : separator).append(bytes(purchase()));
        }
        return b;
    }

    // ---- serving ----------------------------------------------------------------------------------------------

    private void serve() {
        String one = "/v1/features/customer/c-1";
        for (String entity : List.of("nope", "CUSTOMER", "customer%20", "purchase", "customer.", "customers")) {
            request("unknown-type-entity", "GET entity " + entity, "GET", "/v1/features/" + entity + "/c-1").expect("404").add();
            request("unknown-type-entity", "POST entity " + entity, "POST", "/v1/features")
                    .json(bytes(features(entity, List.of("c-1"), List.of("orders_1h")))).expect("404").add();
        }
        for (String query : List.of("features=nope", "features=orders_1h,nope", "features=orders_1h,,nope", "features=ORDERS_1H",
                "feature_set=nope", "feature_set=fraud_v1&features=orders_1h", "features=orders_1h&feature_set=reorder_v1",
                "features=orders", "features=orders_2h", "features=purchase", "features=orders_1h%00", "feature_set=fraud_v1%20",
                "features=" + "nope,".repeat(1_000) + "orders_1h")) {
            request("unknown-type-entity", "GET ?" + abbreviate(query), "GET", one + "?" + query).add();
        }
        for (String m : METACHARACTERS) {
            String e = encode(m);
            String shown = bytesText(m);
            request("metacharacters", "GET entity " + shown, "GET", "/v1/features/" + e + "/c-1").expect("4xx").add();
            request("metacharacters", "GET id " + shown + ", unknown feature", "GET", "/v1/features/customer/" + e + "?features=nope")
                    .expect("4xx").add();
            request("metacharacters", "GET feature " + shown, "GET", one + "?features=" + e).add();
            request("metacharacters", "GET feature_set " + shown, "GET", one + "?feature_set=" + e).add();
            request("metacharacters", "POST entity " + shown, "POST", "/v1/features")
                    .json(bytes(features(m, List.of("c-1"), List.of("orders_1h")))).expect("404").add();
            request("metacharacters", "POST id " + shown + ", unknown feature", "POST", "/v1/features")
                    .json(bytes(features("customer", List.of(m), List.of("nope")))).add();
            request("metacharacters", "POST feature " + shown, "POST", "/v1/features")
                    .json(bytes(features("customer", List.of("c-1"), List.of(m)))).add();
            request("metacharacters", "POST feature_set " + shown, "POST", "/v1/features")
                    .json(bytes(features("customer", List.of("c-1"), List.of()).put("feature_set", m))).add();
        }
        // ids nobody can have written: ingest refuses them, so a read of one is a client's mistake
        for (String id : List.of("i".repeat(257), "a\u0000b", "a\u001bb", "a\nb", "\u007f", "  ", "a\u2028b", "\ud800")) {
            String shown = abbreviate(bytesText(id));
            request("control-characters", "GET id " + shown, "GET", "/v1/features/customer/" + encode(id)).add();
            request("control-characters", "POST id " + shown, "POST", "/v1/features")
                    .json(bytes(features("customer", List.of(id), List.of("orders_1h")))).add();
            request("control-characters", "Feast id " + shown, "POST", "/get-online-features")
                    .json(bytes(feast("customer_id", json.valueToTree(List.of(id)), List.of("customer:orders_1h")))).add();
        }
        JsonNodeFactory f = JsonNodeFactory.instance;
        Map<String, Object> wrongBodies = new LinkedHashMap<>();
        wrongBodies.put("an array", f.arrayNode().add(features("customer", List.of("c-1"), List.of("orders_1h"))));
        wrongBodies.put("a string", "customer");
        wrongBodies.put("null", f.nullNode());
        wrongBodies.put("empty object", f.objectNode());
        wrongBodies.put("no ids", f.objectNode().put("entity", "customer"));
        wrongBodies.put("no entity", f.objectNode().set("ids", f.arrayNode().add("c-1")));
        wrongBodies.put("entity 1", features("customer", List.of("c-1"), List.of()).put("entity", 1));
        wrongBodies.put("entity null", features("customer", List.of("c-1"), List.of()).putNull("entity"));
        wrongBodies.put("entity array", features("customer", List.of("c-1"), List.of()).set("entity", f.arrayNode().add("customer")));
        wrongBodies.put("ids a string", features("customer", List.of(), List.of()).put("ids", "c-1"));
        wrongBodies.put("ids an object", features("customer", List.of(), List.of()).set("ids", f.objectNode().put("0", "c-1")));
        wrongBodies.put("ids empty", features("customer", List.of(), List.of()));
        for (Object id : List.of(f.nullNode(), f.objectNode(), f.arrayNode(), true, 1.5, "", 1e300)) {
            wrongBodies.put("ids [" + bytesText(id) + "]", features("customer", List.of(), List.of("orders_1h"))
                    .set("ids", f.arrayNode().add(json.valueToTree(id))));
        }
        wrongBodies.put("features a string", features("customer", List.of("c-1"), List.of()).put("features", "orders_1h"));
        wrongBodies.put("features an object", features("customer", List.of("c-1"), List.of()).set("features", f.objectNode()));
        wrongBodies.put("features [1]", features("customer", List.of("c-1"), List.of()).set("features", f.arrayNode().add(1)));
        wrongBodies.put("features [null]", features("customer", List.of("c-1"), List.of()).set("features", f.arrayNode().addNull()));
        wrongBodies.put("features [[...]]", features("customer", List.of("c-1"), List.of())
                .set("features", f.arrayNode().add(f.arrayNode().add("orders_1h"))));
        wrongBodies.put("feature_set 1", features("customer", List.of("c-1"), List.of()).put("feature_set", 1));
        wrongBodies.put("feature_set [...]", features("customer", List.of("c-1"), List.of())
                .set("feature_set", f.arrayNode().add("fraud_v1")));
        wrongBodies.put("feature_set and features", features("customer", List.of("c-1"), List.of("orders_1h")).put("feature_set", "fraud_v1"));
        wrongBodies.put("51 ids", features("customer", ids(51), List.of("orders_1h")));
        wrongBodies.put("unknown feature", features("customer", List.of("c-1"), List.of("orders_1h", "nope")));
        wrongBodies.forEach((name, body) -> request(name.startsWith("no ") || name.equals("empty object") ? "missing-field"
                : name.contains("51") ? "huge" : name.contains("unknown") ? "unknown-type-entity" : "wrong-type",
                "POST /v1/features " + name, "POST", "/v1/features").json(bytes(body)).add());
        postBodies("/v1/features", bytes(features("customer", List.of("c-1"), List.of("orders_1h"))));
        request("huge", "POST /v1/features 100,000 ids", "POST", "/v1/features").json(new Bytes()
                .text("{\"entity\":\"customer\",\"features\":[\"orders_1h\"],\"ids\":[").repeat("\"c\",", 99_999).text("\"c\"]}")).add();
        request("huge", "POST /v1/features an id of 200,000 characters", "POST", "/v1/features").json(new Bytes()
                .text("{\"entity\":\"customer\",\"features\":[\"orders_1h\"],\"ids\":[\"").repeat("c", 200_000).text("\"]}")).add();
        request("huge", "POST /v1/features 20,000 features", "POST", "/v1/features").json(new Bytes()
                .text("{\"entity\":\"customer\",\"ids\":[\"c-1\"],\"features\":[").repeat("\"orders_1h\",", 20_000).text("\"nope\"]}")).add();
        request("huge", "POST /v1/features over the body limit", "POST", "/v1/features").json(new Bytes()
                .text("{\"entity\":\"customer\",\"features\":[\"orders_1h\"],\"ids\":[").repeat("\"c-1\",", MAX_BODY / 5).text("\"c\"]}"))
                .expect("413").add();
    }

    /** The same broken bodies for each route that reads a JSON body. */
    private void postBodies(String path, Bytes valid) {
        String route = "POST " + path + " ";
        for (String body : List.of("", " ", "{", "}", "[", "nul", "{entity: customer}", "entity=customer&ids=c-1", "'x'", "\u0000")) {
            request("invalid-json", route + bytesText(body), "POST", path).json(Bytes.of(body)).add();
        }
        request("invalid-json", route + "then junk", "POST", path).json(new Bytes().append(valid).text(" junk")).add();
        request("invalid-json", route + "twice", "POST", path).json(new Bytes().append(valid).text("\n").append(valid)).add();
        for (byte[] seq : List.of(new byte[] {(byte) 0xff}, new byte[] {(byte) 0xc0, (byte) 0xaf},
                new byte[] {(byte) 0xed, (byte) 0xa0, (byte) 0x80})) {
            String text = bytesText(featuresOrFeast(path, "c-" + RAW_VALUE));
            int at = text.indexOf(RAW_VALUE);
            request("invalid-utf8", route + hex(seq) + " in an id", "POST", path).json(new Bytes().text(text.substring(0, at))
                    .bytes(seq).text(text.substring(at + RAW_VALUE.length()))).add();
        }
        for (int depth : new int[] {1_001, 100_000}) {
            request("deep-nesting", route + "ids in " + depth + " arrays", "POST", path).json(nested(path, depth)).add();
        }
        request("numbers", route + "NaN id", "POST", path).json(Bytes.of(bytesText(featuresOrFeast(path, RAW_VALUE))
                .replace('"' + RAW_VALUE + '"', "NaN"))).add();
        request("numbers", route + "an id of 1001 digits", "POST", path).json(Bytes.of(bytesText(featuresOrFeast(path, RAW_VALUE))
                .replace('"' + RAW_VALUE + '"', "1".repeat(1001)))).add();
        request("control-characters", route + "a raw control character in an id", "POST", path).json(Bytes.of(
                bytesText(featuresOrFeast(path, RAW_VALUE)).replace(RAW_VALUE, "a\u0001b"))).add();
        for (String type : List.of("text/plain", "application/x-www-form-urlencoded", "application/xml",
                "application/json; charset=utf-16")) {
            request("method-content-type", route + "as " + type, "POST", path).header("Content-Type", type).body(valid)
                    .expect("415").add();
        }
        request("huge", route + "2 MiB body", "POST", path).json(new Bytes().repeat(" ", 2 * MAX_BODY).append(valid)).expect("413").add();
    }

    private Object featuresOrFeast(String path, String id) {
        return path.equals("/v1/features") ? features("customer", List.of(id), List.of("orders_1h"))
                : feast("customer_id", json.valueToTree(List.of(id)), List.of("customer:orders_1h"));
    }

    private Bytes nested(String path, int depth) {
        String prefix = path.equals("/v1/features") ? "{\"entity\":\"customer\",\"features\":[\"orders_1h\"],\"ids\":"
                : "{\"features\":[\"customer:orders_1h\"],\"entities\":{\"customer_id\":";
        return new Bytes().text(prefix).repeat("[", depth).text("\"c-1\"").repeat("]", depth).text(path.equals("/v1/features") ? "}" : "}}");
    }

    private ObjectNode features(String entity, List<String> ids, List<String> names) {
        ObjectNode body = JsonNodeFactory.instance.objectNode().put("entity", entity);
        body.set("ids", json.valueToTree(ids));
        if (!names.isEmpty()) {
            body.set("features", json.valueToTree(names));
        }
        return body;
    }

    private static List<String> ids(int n) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ids.add("c-" + i);
        }
        return ids;
    }

    private ObjectNode feast(String key, com.fasterxml.jackson.databind.JsonNode ids, List<String> names) {
        ObjectNode body = JsonNodeFactory.instance.objectNode();
        body.set("features", json.valueToTree(names));
        body.putObject("entities").set(key, ids);
        return body;
    }

    private void feast() {
        JsonNodeFactory f = JsonNodeFactory.instance;
        List<String> orders = List.of("customer:orders_1h");
        com.fasterxml.jackson.databind.JsonNode oneId = json.valueToTree(List.of("c-1"));
        Map<String, Object> bodies = new LinkedHashMap<>();
        bodies.put("an array", f.arrayNode().add(feast("customer_id", oneId, orders)));
        bodies.put("null", f.nullNode());
        bodies.put("empty object", f.objectNode());
        bodies.put("no entities", f.objectNode().set("features", json.valueToTree(orders)));
        bodies.put("no features", f.objectNode().set("entities", f.objectNode().set("customer_id", oneId)));
        bodies.put("entities an array", feast("customer_id", oneId, orders).set("entities", f.arrayNode().add("c-1")));
        bodies.put("entities a string", feast("customer_id", oneId, orders).put("entities", "c-1"));
        bodies.put("entities empty", feast("customer_id", oneId, orders).set("entities", f.objectNode()));
        ObjectNode two = feast("customer_id", oneId, orders);
        ((ObjectNode) two.get("entities")).set("user_id", oneId);
        bodies.put("two entity keys", two);
        bodies.put("unknown key", feast("user_id", oneId, orders));
        bodies.put("key in upper case", feast("CUSTOMER_ID", oneId, orders));
        bodies.put("ids a string", feast("customer_id", f.textNode("c-1"), orders));
        bodies.put("ids an object", feast("customer_id", f.objectNode().put("0", "c-1"), orders));
        bodies.put("ids empty", feast("customer_id", f.arrayNode(), orders));
        for (Object id : List.of(f.nullNode(), f.objectNode(), f.arrayNode(), true, 1.5, "", 1e300)) {
            bodies.put("ids [" + bytesText(id) + "]", feast("customer_id", f.arrayNode().add(json.valueToTree(id)), orders));
        }
        bodies.put("51 ids", feast("customer_id", json.valueToTree(ids(51)), orders));
        bodies.put("features a string", feast("customer_id", oneId, orders).put("features", "customer:orders_1h"));
        bodies.put("features empty", feast("customer_id", oneId, List.of()));
        bodies.put("features [1]", feast("customer_id", oneId, orders).set("features", f.arrayNode().add(1)));
        bodies.put("features [null]", feast("customer_id", oneId, orders).set("features", f.arrayNode().addNull()));
        bodies.put("features [{}]", feast("customer_id", oneId, orders).set("features", f.arrayNode().addObject()));
        for (String ref : List.of("nope:orders_1h", "customer:nope", "fraud_v1:spend_7d", "customer:", ":", "::",
                "customer:orders_1h:x", "reorder_v1:country", "nope", "CUSTOMER:orders_1h", " customer:orders_1h")) {
            bodies.put("feature " + ref, feast("customer_id", oneId, List.of(ref)));
        }
        bodies.put("feature_service 1", f.objectNode().put("feature_service", 1).set("entities", f.objectNode().set("customer_id", oneId)));
        bodies.put("feature_service nope", f.objectNode().put("feature_service", "nope").set("entities", f.objectNode().set("customer_id", oneId)));
        bodies.put("feature_service and features", feast("customer_id", oneId, orders).put("feature_service", "fraud_v1"));
        bodies.put("full_feature_names a string", feast("customer_id", oneId, orders).put("full_feature_names", "yes"));
        bodies.put("full_feature_names 1", feast("customer_id", oneId, orders).put("full_feature_names", 1));
        bodies.forEach((name, body) -> request(name.startsWith("no ") || name.equals("empty object") ? "missing-field"
                : name.contains("51") ? "huge" : name.startsWith("feature ") || name.contains("unknown") || name.contains("nope")
                ? "unknown-type-entity" : "wrong-type", "Feast " + name, "POST", "/get-online-features").json(bytes(body)).add());
        for (String m : METACHARACTERS) {
            String shown = bytesText(m);
            request("metacharacters", "Feast entity key " + shown, "POST", "/get-online-features")
                    .json(bytes(feast(m, oneId, orders))).add();
            request("metacharacters", "Feast view " + shown, "POST", "/get-online-features")
                    .json(bytes(feast("customer_id", oneId, List.of(m + ":orders_1h")))).add();
            request("metacharacters", "Feast feature_service " + shown, "POST", "/get-online-features")
                    .json(bytes(f.objectNode().put("feature_service", m).set("entities", f.objectNode().set("customer_id", oneId)))).add();
            request("metacharacters", "Feast id " + shown + ", unknown feature", "POST", "/get-online-features")
                    .json(bytes(feast("customer_id", json.valueToTree(List.of(m)), List.of("customer:nope")))).add();
        }
        postBodies("/get-online-features", bytes(feast("customer_id", oneId, orders)));
    }

    /** Each route with the methods it does not take; a valid body where one could be written. */
    private void methods() {
        Map<String, String> routes = new LinkedHashMap<>();
        routes.put("/v1/events", "POST");
        routes.put("/v1/features", "POST");
        routes.put("/v1/features/customer/c-1", "GET");
        routes.put("/get-online-features", "POST");
        routes.put("/healthz", "GET");
        routes.put("/readyz", "GET");
        routes.put("/metrics", "GET");
        for (Map.Entry<String, String> route : routes.entrySet()) {
            for (String method : List.of("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "FOO")) {
                if (method.equals(route.getValue())) {
                    continue;
                }
                Request r = request("method-content-type", method + " " + route.getKey(), method, route.getKey()).expect("4xx");
                if (!method.equals("GET") && !method.equals("TRACE") && !method.equals("OPTIONS")) {
                    r.json(route.getKey().equals("/v1/events") ? bytes(purchase()) : Bytes.of("{}"));
                }
                r.add();
            }
        }
    }

    private void pathTricks() {
        for (String path : List.of("/v1/features/customer/..%2f..%2fhealthz", "/v1/features/customer/%2e%2e/%2e%2e/%2e%2e/healthz",
                "/v1/features/../v1/features/nope/c-1", "/v1/features/customer/c-1/extra", "//v1/features/nope/c-1",
                "/v1/features/customer/", "/v1/features/customer", "/v1/features/", "/v1/features/customer/a%2Fb",
                "/v1/features/customer/%", "/v1/features/customer/%zz", "/v1/features/customer/%c0%af", "/v1/features/customer/%ff",
                "/v1/features/customer/c-1;jsessionid=x", "/v1/features/customer/c-1;x=1/..;/", "/V1/FEATURES/customer/c-1",
                "/./v1/features/nope/c-1", "/v1/events/../features/nope/c-1", "/etc/passwd", "/../../etc/passwd", "/v1/events%00",
                "/index.html", "/favicon.ico", "/.env", "/.git/config", "/v1", "/v2/features/customer/c-1",
                "/v1/features/customer/c-1%3Ffeatures=orders_1h", "/v1/features/customer/%20", "/healthz/../v1/features/nope/c-1",
                "/healthz%2F..%2Fv1/features/nope/c-1", "/v1/features/customer/c-1%23x", "/v1/features/customer/%u0041",
                "/v1/features/customer/c-1%2500", "/v1/features/%2e/c-1", "/v1/features/customer/.", "/v1/features/customer/..")) {
            String withQuery = path + (path.contains("?") ? "&" : "?") + "features=nope";
            request("path-tricks", "GET " + withQuery, "GET", withQuery).expect("4xx").add();
        }
        for (String path : List.of("/v1/events/", "/v1//events", "/v1/events?mode=partial&mode=all", "/v1/events;mode=partial",
                "/v1/events/.", "/v1/events.json", "/v1/EVENTS", "/v1/events/%2e", "/v1/%65vents", "/v1/./events",
                "/x/../v1/events", "/v1/events?", "/v1/events??mode=partial", "/v1/events?mode=partial&", "/v1/events%2F",
                "/v1/events/..", "/v1/events/../events", "/v1/events?mode[]=partial", "/v1/events?%6dode=partial",
                "/v1/features/../events")) {
            request("path-tricks", "POST " + path, "POST", path).json(Bytes.of("{}")).expect("4xx").add();
        }
    }

    /** What only a raw socket sends: broken request lines, headers and framing. */
    private void raw() {
        String host = "Host: 127.0.0.1\r\nAuthorization: Bearer " + HostileCase.KEY + "\r\nConnection: close\r\n";
        String json = "Content-Type: application/json\r\n";
        Map<String, Bytes> raws = new LinkedHashMap<>();
        raws.put("NUL in the path", Bytes.of("GET /v1/features/customer/a\u0000b HTTP/1.1\r\n" + host + "\r\n"));
        raws.put("NUL in the POST path", Bytes.of("POST /v1/\u0000events HTTP/1.1\r\n" + host + json + "Content-Length: 2\r\n\r\n{}"));
        raws.put("space in the path", Bytes.of("GET /v1/features/customer/a b HTTP/1.1\r\n" + host + "\r\n"));
        raws.put("backslash in the path", Bytes.of("GET /v1/features/customer/..\\..\\healthz?features=nope HTTP/1.1\r\n" + host + "\r\n"));
        raws.put("raw invalid UTF-8 in the path", new Bytes().text("GET /v1/features/customer/").bytes(new byte[] {(byte) 0xff, (byte) 0xfe})
                .text(" HTTP/1.1\r\n" + host + "\r\n"));
        raws.put("fragment in the request", Bytes.of("GET /v1/features/nope/c-1#x HTTP/1.1\r\n" + host + "\r\n"));
        raws.put("URI of 10,000 bytes", new Bytes().text("GET /v1/features/customer/").repeat("u", 10_000).text(" HTTP/1.1\r\n" + host + "\r\n"));
        raws.put("URI of 100,000 bytes", new Bytes().text("GET /v1/features/customer/c-1?features=").repeat("x", 100_000)
                .text(" HTTP/1.1\r\n" + host + "\r\n"));
        raws.put("POST URI of 20,000 bytes", new Bytes().text("POST /v1/events?mode=").repeat("p", 20_000)
                .text(" HTTP/1.1\r\n" + host + json + "Content-Length: 2\r\n\r\n{}"));
        raws.put("garbage request line", Bytes.of("GARBAGE\r\n\r\n"));
        raws.put("method only", Bytes.of("GET\r\n\r\n"));
        raws.put("HTTP/0.9 request", Bytes.of("GET /healthz\r\n\r\n"));
        raws.put("unknown HTTP version", Bytes.of("GET /healthz HTTP/9.9\r\n" + host + "\r\n"));
        raws.put("HTTP/1.1x version", Bytes.of("GET /healthz HTTP/1.1x\r\n" + host + "\r\n"));
        raws.put("extra word in the request line", Bytes.of("GET /healthz HTTP/1.1 extra\r\n" + host + "\r\n"));
        raws.put("NUL in the method", Bytes.of("G\u0000T /healthz HTTP/1.1\r\n" + host + "\r\n"));
        raws.put("TLS hello on the plain port", Bytes.of(new byte[] {0x16, 0x03, 0x01, 0x00, (byte) 0xa5, 0x01, 0x00, 0x00, (byte) 0xa1,
                0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a}));
        raws.put("relative path without slash", Bytes.of("GET healthz HTTP/1.1\r\n" + host + "\r\n"));
        raws.put("absolute URI of another host", Bytes.of("GET http://evil.example/v1/features/nope/c-1 HTTP/1.1\r\n" + host + "\r\n"));
        raws.put("no Host in HTTP/1.1", Bytes.of("GET /v1/features/nope/c-1 HTTP/1.1\r\nConnection: close\r\n\r\n"));
        raws.put("two Host headers", Bytes.of("GET /v1/features/nope/c-1 HTTP/1.1\r\n" + host + "Host: evil.example\r\n\r\n"));
        String post = "POST /v1/events HTTP/1.1\r\n" + host + json;
        String event = bytesText(purchase());
        raws.put("Content-Length -1", Bytes.of(post + "Content-Length: -1\r\n\r\n" + event));
        raws.put("Content-Length abc", Bytes.of(post + "Content-Length: abc\r\n\r\n" + event));
        raws.put("Content-Length 1e3", Bytes.of(post + "Content-Length: 1e3\r\n\r\n" + event));
        raws.put("Content-Length beyond a long", Bytes.of(post + "Content-Length: 99999999999999999999\r\n\r\n" + event));
        raws.put("Content-Length over the limit", Bytes.of(post + "Content-Length: " + (2 * MAX_BODY) + "\r\n\r\n" + event));
        raws.put("two different Content-Lengths", Bytes.of(post + "Content-Length: 2\r\nContent-Length: " + event.length() + "\r\n\r\n" + event));
        raws.put("Content-Length and chunked", Bytes.of(post + "Content-Length: " + event.length()
                + "\r\nTransfer-Encoding: chunked\r\n\r\n" + event));
        raws.put("Content-Length longer than the body", Bytes.of(post + "Content-Length: " + (event.length() + 100) + "\r\n\r\n" + event));
        raws.put("Content-Length shorter than the body", Bytes.of(post + "Content-Length: " + (event.length() - 1) + "\r\n\r\n" + event));
        raws.put("Content-Length with a sign", Bytes.of(post + "Content-Length: +" + event.length() + "\r\n\r\n" + event));
        raws.put("bad chunk size", Bytes.of(post + "Transfer-Encoding: chunked\r\n\r\nzz\r\n" + event + "\r\n0\r\n\r\n"));
        raws.put("chunk size beyond a long", Bytes.of(post + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n" + event + "\r\n0\r\n\r\n"));
        raws.put("chunked body over the limit", new Bytes().text(post + "Transfer-Encoding: chunked\r\n\r\n")
                .repeat("4000\r\n" + " ".repeat(0x4000) + "\r\n", 2 * MAX_BODY / 0x4000).text("0\r\n\r\n"));
        raws.put("chunked without the last chunk", Bytes.of(post + "Transfer-Encoding: chunked\r\n\r\n" + Integer.toHexString(event.length())
                + "\r\n" + event + "\r\n"));
        raws.put("unknown Transfer-Encoding", Bytes.of(post + "Transfer-Encoding: gzip\r\n\r\n" + event));
        raws.put("gzip Content-Encoding of plain bytes", Bytes.of(post + "Content-Encoding: gzip\r\nContent-Length: " + event.length()
                + "\r\n\r\n" + event));
        raws.put("header of 40,000 bytes", new Bytes().text("GET /v1/features/customer/c-1 HTTP/1.1\r\n" + host + "X-Big: ")
                .repeat("b", 40_000).text("\r\n\r\n"));
        raws.put("3,000 headers", new Bytes().text("GET /v1/features/customer/c-1 HTTP/1.1\r\n" + host).repeat("X-Many: m\r\n", 3_000)
                .text("\r\n"));
        raws.put("header name of 40,000 bytes", new Bytes().text("GET /v1/features/customer/c-1 HTTP/1.1\r\n" + host).repeat("N", 40_000)
                .text(": v\r\n\r\n"));
        raws.put("NUL in a header value", Bytes.of("GET /v1/features/customer/c-1 HTTP/1.1\r\n" + host + "X-Nul: a\u0000b\r\n\r\n"));
        raws.put("header without a colon", Bytes.of("GET /v1/features/customer/c-1 HTTP/1.1\r\n" + host + "NoColon\r\n\r\n"));
        raws.put("space in a header name", Bytes.of("GET /v1/features/customer/c-1 HTTP/1.1\r\n" + host + "Bad Header: x\r\n\r\n"));
        raws.put("folded header", Bytes.of("GET /v1/features/customer/c-1 HTTP/1.1\r\n" + host + "X-Folded: a\r\n b\r\n\r\n"));
        raws.put("space before the colon", Bytes.of(post + "Content-Length : 2\r\n\r\n{}"));
        raws.put("CR alone in a header", Bytes.of("GET /v1/features/customer/c-1 HTTP/1.1\r\n" + host + "X-Cr: a\rb\r\n\r\n"));
        for (Map.Entry<String, Bytes> r : raws.entrySet()) {
            Request q = request("raw", r.getKey(), null, null).expect(rawStatus(r.getKey()));
            q.raw = r.getValue();
            q.add();
        }
    }

    private static String rawStatus(String name) {
        if (name.startsWith("URI of") || name.startsWith("POST URI")) {
            return "414";
        }
        if (name.startsWith("header of") || name.startsWith("3,000 headers") || name.startsWith("header name of")) {
            return "431";
        }
        if (name.contains("over the limit")) {
            return "413";
        }
        return "4xx";
    }

    /** Requests that would be accepted with the right key: refused without one (401) or with another scope (403). */
    private void auth() {
        record Route(String name, String method, String path, Bytes body, String otherScope) {
        }
        List<Route> routes = List.of(
                new Route("ingest", "POST", "/v1/events", bytes(purchase()), "read"),
                new Route("ingest NDJSON", "POST", "/v1/events?mode=partial", events(2, "\n"), "read"),
                new Route("read", "GET", "/v1/features/customer/c-1", null, "ingest"),
                new Route("read many", "POST", "/v1/features", bytes(features("customer", List.of("c-1"), List.of("orders_1h"))), "ingest"),
                new Route("Feast", "POST", "/get-online-features", bytes(feast("customer_id", json.valueToTree(List.of("c-1")),
                        List.of("customer:orders_1h"))), "ingest"));
        for (Route route : routes) {
            String type = route.name().contains("NDJSON") ? NDJSON_TYPE : JSON_TYPE;
            java.util.function.BiFunction<String, String, Request> r = (name, key) -> {
                Request q = request("auth", route.name() + ": " + name, route.method(), route.path()).key(key)
                        .requires(AUTH).expect("401");
                if (route.body() != null) {
                    q.header("Content-Type", type).body(route.body());
                }
                return q;
            };
            r.apply("no key", "none").add();
            r.apply("unknown key", "unknown").add();
            r.apply("unknown key as X-API-Key", "unknown").header("X-API-Key", HostileCase.KEY).add();
            r.apply("empty bearer", "none").header("Authorization", "Bearer").add();
            r.apply("empty bearer and space", "none").header("Authorization", "Bearer ").add();
            r.apply("empty X-API-Key", "none").header("X-API-Key", "").add();
            r.apply("basic credentials", "none").header("Authorization", "Basic dXNlcjpwYXNzd29yZA==").add();
            r.apply("valid key with a suffix", "all").header("Authorization", "Bearer " + HostileCase.KEY + "x").add();
            r.apply("valid key cut short", "all").header("Authorization", "Bearer " + HostileCase.KEY.substring(1)).add();
            r.apply("valid key under another scheme", "all").header("Authorization", "Token " + HostileCase.KEY).add();
            r.apply("key of 4,000 characters", "none").header("Authorization", "Bearer " + "k".repeat(4_000)).add();
            r.apply("key with SQL", "none").header("X-API-Key", "' OR '1'='1").add();
            Request query = r.apply("key only in the query", "all").header("Authorization", "Bearer");
            query.path = route.path() + (route.path().contains("?") ? "&" : "?") + "api_key=" + HostileCase.KEY;
            query.add();
            r.apply("wrong scope", route.otherScope()).expect("403").add();
            r.apply("wrong scope as X-API-Key", route.otherScope()).header("X-API-Key", HostileCase.KEY).expect("403").add();
        }
    }

    // ---- helpers ----------------------------------------------------------------------------------------------

    private static boolean isUtf8(byte[] b) {
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }

    private static int indexOf(byte[] b, byte x) {
        for (int i = 0; i < b.length; i++) {
            if (b[i] == x) {
                return i;
            }
        }
        return -1;
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            s.append(s.length() == 0 ? "" : " ").append(String.format("%02x", x & 0xff));
        }
        return s.toString();
    }

    /** Percent-encodes all but unreserved characters; a lone surrogate as its three bytes, which no UTF-8 allows. */
    private static String encode(String s) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80 && (Character.isLetterOrDigit(c) || "-._~".indexOf(c) >= 0)) {
                out.append(c);
                continue;
            }
            byte[] bytes;
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                bytes = s.substring(i, i + 2).getBytes(StandardCharsets.UTF_8);
                i++;
            } else if (Character.isSurrogate(c)) {
                bytes = new byte[] {(byte) (0xe0 | c >> 12), (byte) (0x80 | (c >> 6 & 0x3f)), (byte) (0x80 | (c & 0x3f))};
            } else {
                bytes = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
            }
            for (byte b : bytes) {
                out.append(String.format("%%%02X", b & 0xff));
            }
        }
        return out.toString();
    }

    private static String abbreviate(String s) {
        String oneLine = s.replace("\n", "\\n").replace("\u0000", "\\0");
        return oneLine.length() <= 48 ? oneLine : oneLine.substring(0, 48) + "... (" + s.length() + " characters)";
    }
}
