package dev.featurepipe.services;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** What the kernel says listens where: which addresses a server really bound. */
final class ListeningSockets {
    private ListeningSockets() {
    }

    /** The local addresses of the sockets listening on {@code port}, from the kernel's tables (/proc/net/tcp, tcp6). */
    static List<InetAddress> addresses(int port) throws IOException {
        List<InetAddress> addresses = new ArrayList<>();
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            Path file = Path.of(table);
            if (!Files.exists(file)) {
                continue;
            }
            List<String> lines = Files.readAllLines(file);
            for (String line : lines.subList(1, lines.size())) { // after the header
                String[] cols = line.trim().split("\\s+");
                String[] local = cols[1].split(":");
                if (cols[3].equals("0A") && Integer.parseInt(local[1], 16) == port) { // 0A: LISTEN
                    addresses.add(kernelAddress(local[0]));
                }
            }
        }
        return addresses;
    }

    /** An address as /proc/net writes it: 4-byte words in hex, each in the machine's (little-endian) byte order. */
    private static InetAddress kernelAddress(String hex) throws IOException {
        byte[] bytes = new byte[hex.length() / 2];
        for (int word = 0; word < bytes.length / 4; word++) {
            for (int b = 0; b < 4; b++) {
                bytes[word * 4 + b] = (byte) Integer.parseInt(hex.substring(word * 8 + (3 - b) * 2, word * 8 + (3 - b) * 2 + 2), 16);
            }
        }
        return InetAddress.getByAddress(bytes);
    }

    /** Whether nothing listens on the loopback port (a bind to it succeeds). */
    static boolean free(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress("127.0.0.1", port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
