package dev.featurepipe.services;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A real clickhouse-server (18.16 from Debian, also fine for later versions), daemonized with a config file of
 * our own: loopback only, no interserver port, everything under the data dir.
 */
final class ClickHouseLocal implements LocalServer {
    private final String name;
    private final String host;
    private final int port;
    private final int tcpPort;
    private final Path dir;
    private final String remoteServers;

    ClickHouseLocal(URI url, int tcpPort, Path dir) {
        this("clickhouse", url, tcpPort, dir, "");
    }

    /** @param remoteServers the {@code <remote_servers>} element of its config, or empty for none */
    ClickHouseLocal(String name, URI url, int tcpPort, Path dir, String remoteServers) {
        this.name = name;
        this.host = url.getHost() == null ? "127.0.0.1" : url.getHost();
        this.port = url.getPort() < 0 ? 8123 : url.getPort();
        this.tcpPort = tcpPort;
        this.dir = dir;
        this.remoteServers = remoteServers;
    }

    @Override public String name() { return name; }
    @Override public String host() { return host; }
    @Override public int port() { return port; }
    @Override public List<Integer> ports() { return List.of(port, tcpPort); }
    @Override public String executable() { return "clickhouse-server"; }
    @Override public List<String> packages() { return List.of("clickhouse-server", "clickhouse-client"); }
    @Override public String processHint() { return "clickhouse"; }
    @Override public Path dir() { return dir; }
    @Override public Path pidFile() { return dir.resolve("clickhouse.pid"); }
    @Override public Path logFile() { return dir.resolve("clickhouse-server.log"); }

    Path configFile() {
        return dir.resolve("config.xml");
    }

    /**
     * Where more users go: ClickHouse merges every {@code *.xml} here into {@code users.xml} and reloads it within
     * seconds while it runs (a test adds a user with a password there).
     */
    Path usersDir() {
        return dir.resolve("users.d");
    }

    /**
     * GET /ping answers 200 "Ok." on every ClickHouse version. Plain HTTP/1.0 on a socket, so no idle keep-alive
     * connection is left behind: ClickHouse waits for those when it shuts down.
     */
    @Override
    public boolean answers() {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host, port), 500);
            s.setSoTimeout(1000);
            s.getOutputStream().write(("GET /ping HTTP/1.0\r\nHost: " + host + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            String response = new String(s.getInputStream().readNBytes(4096), StandardCharsets.ISO_8859_1);
            return response.startsWith("HTTP/1.") && response.contains(" 200 ") && response.endsWith("Ok.\n");
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void start(Path executable) throws IOException, InterruptedException {
        Files.writeString(configFile(), config());
        Files.writeString(dir.resolve("users.xml"), users());
        Files.createDirectories(usersDir());
        LocalServer.runLauncher(List.of(executable.toString(),
                "--config-file=" + configFile(),
                "--pid-file=" + pidFile(),
                "--daemon"), dir, logFile());
    }

    /**
     * Root element {@code <yandex>}: 18.16 requires it and later versions still accept it. Without
     * interserver_http_port no interserver listener is opened; the only listeners are http_port and tcp_port on
     * listen_host. keep_alive_timeout as in the stock config: the built-in default is 10 s, and shutdown waits
     * that long for idle keep-alive clients. ClickHouse itself adds preprocessed_configs/ under path/, and
     * stdout.log/stderr.log next to the log.
     */
    String config() {
        String d = xml(dir.toAbsolutePath().toString());
        return """
                <?xml version="1.0"?>
                <!-- Written by featurepipe LocalServices at each start; edits are overwritten. -->
                <yandex>
                    <logger>
                        <level>information</level>
                        <log>%1$s/clickhouse-server.log</log>
                        <errorlog>%1$s/clickhouse-server.err.log</errorlog>
                        <size>100M</size>
                        <count>3</count>
                    </logger>
                    <listen_host>%2$s</listen_host>
                    <http_port>%3$d</http_port>
                    <tcp_port>%4$d</tcp_port>
                    <path>%1$s/data/</path>
                    <tmp_path>%1$s/tmp/</tmp_path>
                    <user_files_path>%1$s/user_files/</user_files_path>
                    <format_schema_path>%1$s/format_schemas/</format_schema_path>
                    <users_config>%1$s/users.xml</users_config>
                    <default_profile>default</default_profile>
                    <default_database>default</default_database>
                    <timezone>UTC</timezone>
                    <keep_alive_timeout>3</keep_alive_timeout>
                    <mark_cache_size>5368709120</mark_cache_size>
                %5$s
                </yandex>
                """.formatted(d, xml(host), port, tcpPort, remoteServers);
    }

    /** The stock users.xml's user {@code default}, without a password, allowed from loopback only. */
    static String users() {
        return """
                <?xml version="1.0"?>
                <!-- Written by featurepipe LocalServices at each start; edits are overwritten. Add users in users.d/. -->
                <yandex>
                    <profiles>
                        <default>
                            <max_memory_usage>10000000000</max_memory_usage>
                            <load_balancing>random</load_balancing>
                        </default>
                    </profiles>
                    <users>
                        <default>
                            <password></password>
                            <networks>
                                <ip>127.0.0.1</ip>
                                <ip>::1</ip>
                            </networks>
                            <profile>default</profile>
                            <quota>default</quota>
                        </default>
                    </users>
                    <quotas>
                        <default>
                            <interval>
                                <duration>3600</duration>
                                <queries>0</queries>
                                <errors>0</errors>
                                <result_rows>0</result_rows>
                                <read_rows>0</read_rows>
                                <execution_time>0</execution_time>
                            </interval>
                        </default>
                    </quotas>
                </yandex>
                """;
    }

    private static String xml(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
