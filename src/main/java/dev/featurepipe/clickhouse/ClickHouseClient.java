package dev.featurepipe.clickhouse;

import dev.featurepipe.core.StoreRejectedException;
import dev.featurepipe.core.StoreUnavailableException;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * ClickHouse over its HTTP interface, which every version from 18.16 on speaks the same way. The query goes in
 * the URL (or first in the body for INSERTs), the output format is named in the SQL, the database in the URL.
 */
public final class ClickHouseClient {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final int MAX_QUERY_BYTES = 64 << 20;
    private static final Pattern ERROR_CODE = Pattern.compile("Code: (\\d+)");
    /**
     * Error codes that say "not now" rather than "never": timeouts, network errors, too many queries or parts,
     * memory limits, a read-only table. Any other error is the statement's fault and retrying will not help.
     */
    private static final Set<Integer> TRANSIENT_ERRORS = Set.of(159, 202, 209, 210, 241, 242, 252, 425);

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
    private final URI base;
    private final String database;

    /** @param database the database of unqualified names, or null for none */
    public ClickHouseClient(URI base, String database) {
        this.base = base;
        this.database = database;
    }

    /** Runs a statement or query and returns the response body. */
    public String execute(String sql) {
        return send(HttpRequest.newBuilder(uri(null)).POST(HttpRequest.BodyPublishers.ofString(sql)), sql);
    }

    /** Sends rows as JSONEachRow (one JSON object per line, UTF-8) into a table. */
    public void insertJsonRows(String table, byte[] rows) {
        insert("INSERT INTO " + table + " FORMAT JSONEachRow", rows);
    }

    /** Runs an INSERT statement (which names its format) with the rows as the body. */
    public void insert(String sql, byte[] rows) {
        send(HttpRequest.newBuilder(uri(sql)).POST(HttpRequest.BodyPublishers.ofByteArray(rows)), sql);
    }

    public ClickHouseClient withDatabase(String name) {
        return new ClickHouseClient(base, name);
    }

    private URI uri(String query) {
        StringBuilder url = new StringBuilder(base.toString().replaceAll("/+$", "")).append("/?");
        if (database != null) {
            url.append("database=").append(database).append('&');
        }
        if (query != null) {
            url.append("query=").append(URLEncoder.encode(query, StandardCharsets.UTF_8)).append('&');
        }
        // numbers as JSON numbers; room for the long IN lists and lookups of point-in-time queries
        url.append("output_format_json_quote_64bit_integers=0&max_query_size=").append(MAX_QUERY_BYTES);
        return URI.create(url.toString());
    }

    private String send(HttpRequest.Builder request, String sql) {
        HttpResponse<String> response;
        try {
            response = http.send(request.timeout(TIMEOUT).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new StoreUnavailableException("ClickHouse at " + base + " did not answer: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreUnavailableException("interrupted while waiting for ClickHouse at " + base, e);
        }
        if (response.statusCode() != 200) {
            String message = "ClickHouse at " + base + " answered " + response.statusCode() + " to " + abbreviate(sql)
                    + ": " + abbreviate(response.body().strip());
            Matcher code = ERROR_CODE.matcher(response.body());
            if (response.statusCode() == 503 || (code.find() && TRANSIENT_ERRORS.contains(Integer.parseInt(code.group(1))))) {
                throw new StoreUnavailableException(message, null);
            }
            throw new StoreRejectedException(message, null);
        }
        return response.body();
    }

    private static String abbreviate(String s) {
        return s.length() <= 300 ? s : s.substring(0, 300) + "...";
    }
}
