package dev.featurepipe.bench;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * One keep-alive HTTP/1.1 connection to the local API, as thin as a load generator's must be: requests are bytes
 * prepared in advance, the answer's status is read and its body skipped or kept (by Content-Length or chunks). The
 * client then costs the benchmark's two cores a few microseconds per request, not the tens a full client costs.
 */
final class HttpConnection implements AutoCloseable {
    private final Socket socket;
    private final OutputStream out;
    private final InputStream in;
    private final byte[] buffer = new byte[64 * 1024];

    HttpConnection(int port) throws IOException {
        socket = new Socket(InetAddress.getLoopbackAddress(), port);
        socket.setTcpNoDelay(true);
        out = socket.getOutputStream();
        in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
    }

    static byte[] get(String path) {
        return ("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    static byte[] post(String path, String contentType, byte[] body) {
        byte[] head = ("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + contentType
                + "\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        byte[] request = new byte[head.length + body.length];
        System.arraycopy(head, 0, request, 0, head.length);
        System.arraycopy(body, 0, request, head.length, body.length);
        return request;
    }

    /** Sends a prepared request and reads its whole answer; returns the status. */
    int send(byte[] request) throws IOException {
        return exchange(request, null);
    }

    /** Sends a prepared request that must answer 2xx; returns the body. */
    byte[] body(byte[] request) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        int status = exchange(request, body);
        if (status / 100 != 2) {
            throw new IOException("status " + status);
        }
        return body.toByteArray();
    }

    private int exchange(byte[] request, ByteArrayOutputStream body) throws IOException {
        out.write(request);
        out.flush();
        String statusLine = line();
        int status = Integer.parseInt(statusLine.substring(9, 12));
        long length = -1;
        boolean chunked = false;
        for (String h = line(); !h.isEmpty(); h = line()) {
            int colon = h.indexOf(':');
            String name = h.substring(0, colon).trim();
            if (name.equalsIgnoreCase("Content-Length")) {
                length = Long.parseLong(h.substring(colon + 1).trim());
            } else if (name.equalsIgnoreCase("Transfer-Encoding")) {
                chunked = h.substring(colon + 1).trim().equalsIgnoreCase("chunked");
            }
        }
        if (chunked) {
            for (long size = Long.parseLong(line().trim(), 16); size > 0; size = Long.parseLong(line().trim(), 16)) {
                read(size, body);
                line();
            }
            line();
        } else if (length > 0) {
            read(length, body);
        }
        return status;
    }

    /** Reads n bytes of the body into {@code body}, or drops them when it is null. */
    private void read(long n, ByteArrayOutputStream body) throws IOException {
        while (n > 0) {
            int r = in.read(buffer, 0, (int) Math.min(buffer.length, n));
            if (r < 0) {
                throw new IOException("the server closed the connection mid-answer");
            }
            if (body != null) {
                body.write(buffer, 0, r);
            }
            n -= r;
        }
    }

    private String line() throws IOException {
        StringBuilder s = new StringBuilder(64);
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) {
                throw new IOException("the server closed the connection");
            }
            if (c != '\r') {
                s.append((char) c);
            }
        }
        return s.toString();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
