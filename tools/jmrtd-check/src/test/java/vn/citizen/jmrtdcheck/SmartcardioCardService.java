package vn.citizen.jmrtdcheck;

import javax.smartcardio.Card;
import javax.smartcardio.CardChannel;
import javax.smartcardio.CardException;
import javax.smartcardio.CardTerminal;

import net.sf.scuba.smartcards.CardService;
import net.sf.scuba.smartcards.CardServiceException;
import net.sf.scuba.smartcards.CommandAPDU;
import net.sf.scuba.smartcards.ResponseAPDU;

/**
 * SCUBA's {@link CardService} over {@code javax.smartcardio}: what {@code scuba-sc-j2se}'s
 * {@code TerminalCardService} does, which is not on Maven Central. The JDK's PC/SC provider
 * talks to pcscd through libpcsclite ({@code -Dsun.security.smartcardio.library}).
 */
final class SmartcardioCardService extends CardService {
    private final CardTerminal terminal;
    private Card card;
    private CardChannel channel;
    private int apdus;
    private long bytesSent;
    private long bytesReceived;
    private long transportNanos;

    SmartcardioCardService(CardTerminal terminal) {
        this.terminal = terminal;
    }

    @Override
    public void open() throws CardServiceException {
        try {
            card = terminal.connect("*");
            channel = card.getBasicChannel();
        } catch (CardException e) {
            throw new CardServiceException("connect to " + terminal.getName() + ": " + e, e);
        }
    }

    @Override
    public boolean isOpen() {
        return channel != null;
    }

    @Override
    public ResponseAPDU transmit(CommandAPDU command) throws CardServiceException {
        try {
            apdus++;
            byte[] c = command.getBytes();
            long start = System.nanoTime();
            byte[] r = channel.transmit(new javax.smartcardio.CommandAPDU(c)).getBytes();
            transportNanos += System.nanoTime() - start;
            if (System.getenv("CITIZEN_APDU_TRACE") != null) {
                System.err.println("> " + java.util.HexFormat.of().formatHex(c) + "\n< " + java.util.HexFormat.of().formatHex(r));
            }
            bytesSent += c.length;
            bytesReceived += r.length;
            return new ResponseAPDU(r);
        } catch (CardException e) {
            throw new CardServiceException("transmit: " + e, e);
        }
    }

    @Override
    public byte[] getATR() {
        return card.getATR().getBytes();
    }

    @Override
    public void close() {
        if (card != null) {
            try {
                card.disconnect(false);
            } catch (CardException ignored) {
                // The card may already be gone; nothing to release then.
            }
        }
        card = null;
        channel = null;
    }

    @Override
    public boolean isConnectionLost(Exception e) {
        return e instanceof CardServiceException && e.getCause() instanceof CardException;
    }

    /** Command APDUs sent so far (for the side-by-side figures). */
    int apduCount() {
        return apdus;
    }

    /** Bytes of command APDUs sent so far. */
    long bytesSent() {
        return bytesSent;
    }

    /** Bytes of response APDUs (with status words) received so far. */
    long bytesReceived() {
        return bytesReceived;
    }

    /** Time spent in {@code transmit} (pcscd, vpcd, the card) so far, in nanoseconds. */
    long transportNanos() {
        return transportNanos;
    }
}
