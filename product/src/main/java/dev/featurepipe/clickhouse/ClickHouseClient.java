package dev.featurepipe.clickhouse;

import dev.featurepipe.core.Secrets;
import dev.featurepipe.core.StoreUnavailableException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * ClickHouse over its HTTP interface, which every version from 18.16 on speaks the same way. The query goes in
 * the URL (or first in the body for INSERTs), the output format is named in the SQL, the database in the URL,
 * the user and password in headers. An INSERT returns once its rows are written: on a server that has
 * {@code async_insert} (21.11 on, its version asked once) the setting is pinned off for every INSERT.
 */
public final class ClickHouseClient {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final int MAX_QUERY_BYTES = 64 << 20;

    /** Who this client is on the server. The password goes in a header only, never in a URL, log line or error. */
    public record Credentials(String user, String password) {
        public static final Credentials DEFAULT = new Credentials("default", "");

        @Override
        public String toString() {
            return "Credentials[user=" + user + "]";
        }
    }

    /** The server, shared by the clients of its databases, so its version is asked once. */
    private static final class Server {
        private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
        private final URI base;
        private final Credentials credentials;
        private volatile ClickHouseVersion version;

        Server(URI base, Credentials credentials) {
            this.base = base;
            this.credentials = credentials;
        }
    }

    private final Server server;
    private final String database;
    /** URL parameters every INSERT of this client carries besides its own, e.g. {@code insert_distributed_sync=1&}. */
    private final String insertSettings;

    /** A client as the user {@code default} without a password. */
    public ClickHouseClient(URI base, String database) {
        this(base, Credentials.DEFAULT, database);
    }

    /** @param database the database of unqualified names, or null for none */
    public ClickHouseClient(URI base, Credentials credentials, String database) {
        this(new Server(base, credentials), database, "");
    }

    private ClickHouseClient(Server server, String database, String insertSettings) {
        this.server = server;
        this.database = database;
        this.insertSettings = insertSettings;
    }

    /** Runs a statement or query and returns the response body. */
    public String execute(String sql) {
        return send(HttpRequest.newBuilder(uri(null, isInsert(sql))).POST(HttpRequest.BodyPublishers.ofString(sql)), sql,
                false, HttpResponse.BodyHandlers.ofString(), body -> body);
    }

    /** Reads a query's answer as it arrives, for answers too large to hold as one string. */
    @FunctionalInterface
    public interface BodyReader {
        void read(InputStream body) throws IOException;
    }

    /** Runs a query and hands its answer, streamed, to {@code reader}. */
    public void stream(String sql, BodyReader reader) {
        InputStream body = send(HttpRequest.newBuilder(uri(null, false)).POST(HttpRequest.BodyPublishers.ofString(sql)), sql,
                false, HttpResponse.BodyHandlers.ofInputStream(), in -> new String(in.readAllBytes(), StandardCharsets.UTF_8));
        try (body) {
            reader.read(body);
        } catch (IOException e) {
            throw new StoreUnavailableException("ClickHouse at " + server.base + " broke off its answer to " + abbreviate(sql)
                    + ": " + e, e);
        }
    }

    /** Sends rows as JSONEachRow (one JSON object per line, UTF-8) into a table. */
    public void insertJsonRows(String table, byte[] rows) {
        insert("INSERT INTO " + table + " FORMAT JSONEachRow", rows);
    }

    /** Runs an INSERT statement (which names its format) with the rows as the body. */
    public void insert(String sql, byte[] rows) {
        send(HttpRequest.newBuilder(uri(sql, true)).POST(HttpRequest.BodyPublishers.ofByteArray(rows)), sql, true,
                HttpResponse.BodyHandlers.ofString(), body -> body);
    }

    public ClickHouseClient withDatabase(String name) {
        return new ClickHouseClient(server, name, insertSettings);
    }

    /** This client's database and settings on another server, as the same user. */
    public ClickHouseClient at(URI base) {
        return new ClickHouseClient(new Server(base, server.credentials), database, insertSettings);
    }

    /** A client whose INSERTs also carry the setting (one every version from 18.16 on knows: 18.16 refuses others). */
    public ClickHouseClient withInsertSetting(String name, String value) {
        return new ClickHouseClient(server, database, insertSettings + name + "="
                + URLEncoder.encode(value, StandardCharsets.UTF_8) + "&");
    }

    /** The server's HTTP interface, e.g. {@code http://127.0.0.1:8123}. */
    public URI base() {
        return server.base;
    }

    /** The server's version, asked once. */
    ClickHouseVersion version() {
        ClickHouseVersion v = server.version;
        if (v == null) {
            v = ClickHouseVersion.parse(execute("SELECT version() FORMAT TabSeparated"));
            server.version = v;
        }
        return v;
    }

    /**
     * Only INSERTs get the setting: a user whose profile is read-only may not set any, even on a SELECT, and
     * statements without rows of their own (INSERT ... SELECT) ignore it.
     */
    private static boolean isInsert(String sql) {
        return sql.stripLeading().regionMatches(true, 0, "INSERT", 0, 6);
    }

    private URI uri(String query, boolean insert) {
        StringBuilder url = new StringBuilder(server.base.toString().replaceAll("/+$", "")).append("/?");
        if (database != null) {
            url.append("database=").append(database).append('&');
        }
        if (query != null) {
            url.append("query=").append(URLEncoder.encode(query, StandardCharsets.UTF_8)).append('&');
        }
        if (insert) {
            url.append(insertSettings);
            if (version().knowsAsyncInsert()) {
                url.append("async_insert=0&");
            }
        }
        // numbers as JSON numbers; room for the long IN lists and lookups of point-in-time queries
        url.append("output_format_json_quote_64bit_integers=0&max_query_size=").append(MAX_QUERY_BYTES);
        return URI.create(url.toString());
    }

    /** How to read an error answer's body of type T as text. */
    @FunctionalInterface
    private interface ErrorText<T> {
        String of(T body) throws IOException;
    }

    /** @param rows whether the request sends rows, whose errors {@link ClickHouseErrors} sorts apart from queries' */
    private <T> T send(HttpRequest.Builder request, String sql, boolean rows, HttpResponse.BodyHandler<T> handler,
                       ErrorText<T> errorText) {
        HttpResponse<T> response;
        String error;
        try {
            response = server.http.send(request.timeout(TIMEOUT)
                    .header("X-ClickHouse-User", server.credentials.user())
                    .header("X-ClickHouse-Key", server.credentials.password()).build(), handler);
            if (response.statusCode() == 200) {
                return response.body();
            }
            error = errorText.of(response.body());
        } catch (IOException e) {
            throw new StoreUnavailableException("ClickHouse at " + server.base + " did not answer: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreUnavailableException("interrupted while waiting for ClickHouse at " + server.base, e);
        }
        String answer = abbreviate(rows ? ClickHouseErrors.withoutValues(error.strip()) : error.strip());
        String message = ClickHouseErrors.refusedUser(response.statusCode(), error)
                ? "ClickHouse at " + server.base + " refused the user '" + server.credentials.user()
                        + "' (FP_CLICKHOUSE_USER, FP_CLICKHOUSE_PASSWORD): " + answer
                : "ClickHouse at " + server.base + " answered " + response.statusCode() + " to " + abbreviate(sql) + ": " + answer;
        throw ClickHouseErrors.of(rows, response.statusCode(), error, message);
    }

    private static String abbreviate(String s) {
        return s.length() <= 300 ? s : s.substring(0, 300) + "...";
    }
}
