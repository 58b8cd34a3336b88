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
            return new ResponseAPDU(channel.transmit(new javax.smartcardio.CommandAPDU(command.getBytes())).getBytes());
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
}
