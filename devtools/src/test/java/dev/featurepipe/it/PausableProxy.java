package dev.featurepipe.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP relay on loopback in front of a real server, which can hold every byte for a while: the server stays up,
 * but to its clients it looks as slow as a stalled network or an overloaded store.
 */
final class PausableProxy implements AutoCloseable {
    private final ServerSocket listener;
    private final int targetPort;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private volatile boolean paused;

    PausableProxy(int targetPort) {
        this.targetPort = targetPort;
        try {
            listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Thread acceptor = new Thread(this::accept, "proxy-accept-" + targetPort);
        acceptor.setDaemon(true);
        acceptor.start();
    }

    int port() {
        return listener.getLocalPort();
    }

    /** While paused, nothing goes through in either direction; what was sent meanwhile follows on resume. */
    void pause(boolean paused) {
        this.paused = paused;
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                Socket server = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                sockets.add(client);
                sockets.add(server);
                relay(client, server);
                relay(server, client);
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void relay(Socket from, Socket to) {
        Thread t = new Thread(() -> {
            byte[] buffer = new byte[64 * 1024];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    while (paused) {
                        Thread.sleep(5);
                    }
                    out.write(buffer, 0, n);
                    out.flush();
                }
            } catch (IOException | InterruptedException e) {
                // one side closed: the relay ends
            }
        }, "proxy-relay-" + targetPort);
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void close() throws IOException {
        paused = false;
        listener.close();
        for (Socket s : sockets) {
            s.close();
        }
    }
}
