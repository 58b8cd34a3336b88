package vn.citizen.jmrtdcheck;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

import javax.smartcardio.CardTerminal;
import javax.smartcardio.TerminalFactory;

import net.sf.scuba.smartcards.CardService;

import org.jmrtd.PassportService;
import org.jmrtd.lds.CardAccessFile;
import org.jmrtd.lds.PACEInfo;
import org.jmrtd.lds.SecurityInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * JMRTD, an independent eMRTD reader, reads EF.CardAccess of our software card through
 * javax.smartcardio on the same pcscd + vpcd that {@code citizen chip probe} uses, and the two
 * agree on what the chip announces: PACE-ECDH-GM-AES-CBC-CMAC-128 on brainpoolP256r1 (parameter
 * id 13), as the CCCD does (shared/reference/icao9303-cccd.md). JMRTD's view is exported to
 * {@code target/jmrtd-card-access.json}.
 */
class CardAccessCrossCheckTest {
    static final String PACE_GM_AES128 = "0.4.0.127.0.7.2.2.4.2.2";
    static final String CCCD_CARD_ACCESS =
            "3134300d060804007f0007020202020101300f060a04007f000702020302020201013012060a04007f0007020204020202010202010d";

    static final String READER = System.getProperty("vpcd.reader", "Virtual PCD 00 00");
    static VirtualCardProcess card;

    /** What JMRTD read: the file's bytes and its PACEInfos. */
    record Read(byte[] encoded, List<PACEInfo> pace) { }

    @BeforeAll
    static void placeTheCard() throws Exception {
        card = VirtualCardProcess.place(
                System.getProperty("virtual.card.bin"), Integer.getInteger("vpcd.port", 35963), "probe");
    }

    @AfterAll
    static void removeTheCard() throws Exception {
        if (card != null) {
            card.close();
        }
    }

    /** Read EF.CardAccess with JMRTD's PassportService (SFI or SELECT-by-FID file access). */
    static Read readWithJmrtd(boolean sfi) throws Exception {
        CardTerminal terminal = TerminalFactory.getDefault().terminals().getTerminal(READER);
        assertTrue(terminal != null, "javax.smartcardio does not see " + READER);
        assertTrue(terminal.waitForCardPresent(10_000), "no card in " + READER);
        CardService cs = new SmartcardioCardService(terminal);
        PassportService service = new PassportService(
                cs, PassportService.NORMAL_MAX_TRANCEIVE_LENGTH, PassportService.DEFAULT_MAX_BLOCKSIZE, sfi, false);
        service.open();
        try {
            CardAccessFile file = new CardAccessFile(
                    service.getInputStream(PassportService.EF_CARD_ACCESS, PassportService.DEFAULT_MAX_BLOCKSIZE));
            List<PACEInfo> pace = new ArrayList<>();
            for (SecurityInfo info : file.getSecurityInfos()) {
                if (info instanceof PACEInfo p) {
                    pace.add(p);
                }
            }
            return new Read(file.getEncoded(), pace);
        } finally {
            service.close();
        }
    }

    /** JSON in serde_json's form (keys sorted), as `citizen chip probe --json` prints its "pace". */
    static String paceJson(List<PACEInfo> pace) {
        List<String> items = new ArrayList<>();
        for (PACEInfo p : pace) {
            items.add("{\"parameter_id\":" + p.getParameterId() + ",\"protocol\":\"" + p.getObjectIdentifier()
                    + "\",\"version\":" + p.getVersion() + "}");
        }
        return "[" + String.join(",", items) + "]";
    }

    @Test
    void jmrtdReadsThePaceInfoOfTheCccdThroughPcscd() throws Exception {
        for (boolean sfi : new boolean[] {false, true}) {
            Read read = readWithJmrtd(sfi);
            assertArrayEquals(HexFormat.of().parseHex(CCCD_CARD_ACCESS), read.encoded(), "sfi=" + sfi);
            assertEquals(1, read.pace().size(), "one PACEInfo (sfi=" + sfi + ")");
            PACEInfo p = read.pace().get(0);
            assertEquals(PACE_GM_AES128, p.getObjectIdentifier());
            assertEquals(2, p.getVersion());
            assertEquals(BigInteger.valueOf(PACEInfo.PARAM_ID_ECP_BRAINPOOL_P256_R1), p.getParameterId());
            assertEquals(BigInteger.valueOf(13), p.getParameterId());
        }
    }

    @Test
    void citizenChipProbeAgreesWithJmrtd() throws Exception {
        Read read = readWithJmrtd(false);
        String jmrtd = paceJson(read.pace());
        String cardAccess = HexFormat.of().withUpperCase().formatHex(read.encoded());
        Path out = Path.of(System.getProperty("jmrtd.out", "target/jmrtd-card-access.json"));
        Files.createDirectories(out.getParent());
        Files.writeString(out, "{\"reader\":\"" + READER + "\",\"card_access\":\"" + cardAccess + "\",\"pace\":" + jmrtd
                + "}\n", StandardCharsets.UTF_8);

        Process p = new ProcessBuilder(System.getProperty("citizen.cli.bin"), "chip", "probe", "--json", "--reader", READER)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        String ours = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "citizen chip probe did not finish");
        assertEquals(0, p.exitValue(), "citizen chip probe failed: " + ours);
        assertEquals(jmrtd, jsonValue(ours, "pace"), "PACE as our probe reads it vs JMRTD");
        assertEquals("\"" + cardAccess + "\"", jsonValue(ours, "card_access"), "EF.CardAccess bytes");
    }

    /** The raw JSON value of a top-level key of a flat serde_json object (strings without escapes). */
    static String jsonValue(String json, String key) throws IOException {
        String marker = "\"" + key + "\":";
        int start = json.indexOf(marker);
        if (start < 0) {
            throw new IOException("no " + key + " in " + json);
        }
        start += marker.length();
        int depth = 0;
        boolean inString = false;
        for (int i = start; i < json.length(); i++) {
            char c = json.charAt(i);
            if (c == '"') {
                inString = !inString;
            } else if (!inString && (c == '[' || c == '{')) {
                depth++;
            } else if (!inString && (c == ']' || c == '}')) {
                if (depth == 0) {
                    return json.substring(start, i);
                }
                depth--;
            } else if (!inString && c == ',' && depth == 0) {
                return json.substring(start, i);
            }
        }
        return json.substring(start);
    }
}
