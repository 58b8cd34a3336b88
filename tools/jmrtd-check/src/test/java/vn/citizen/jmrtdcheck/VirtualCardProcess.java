package vn.citizen.jmrtdcheck;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A software card placed on a vpcd reader of the running pcscd: the {@code virtual-card} binary
 * (tools/virtual-card) as a subprocess. Closing it removes the card (the process is destroyed,
 * its vpcd connection ends).
 */
final class VirtualCardProcess implements AutoCloseable {
    private final Process process;

    private VirtualCardProcess(Process process) {
        this.process = process;
    }

    /** Start {@code virtual-card --port PORT CARD [OPTIONS…]} and wait for its "serving" line. */
    static VirtualCardProcess place(String binary, int port, String card, String... options)
            throws IOException, InterruptedException {
        java.util.List<String> command = new java.util.ArrayList<>(java.util.List.of(binary, "--port", Integer.toString(port)));
        command.addAll(java.util.List.of(options));
        command.add(card);
        Process p = new ProcessBuilder(command)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        BufferedReader err = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8));
        CompletableFuture<String> ready = CompletableFuture.supplyAsync(() -> {
            try {
                StringBuilder seen = new StringBuilder();
                for (String line; (line = err.readLine()) != null; ) {
                    if (line.startsWith("virtual-card: serving")) {
                        return null;
                    }
                    seen.append(line).append('\n');
                }
                return "virtual-card exited before serving:\n" + seen;
            } catch (IOException e) {
                return e.toString();
            }
        });
        String failure;
        try {
            failure = ready.get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            p.destroyForcibly();
            throw new IOException("virtual-card did not connect to vpcd in 30 s", e);
        }
        if (failure != null) {
            p.destroyForcibly();
            throw new IOException(failure);
        }
        // Keep draining stderr so the process never blocks on a full pipe.
        Thread drain = new Thread(() -> {
            try {
                while (err.readLine() != null) { }
            } catch (IOException ignored) { }
        });
        drain.setDaemon(true);
        drain.start();
        return new VirtualCardProcess(p);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
