package vn.citizen.jmrtdcheck;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.Security;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import javax.smartcardio.CardTerminal;
import javax.smartcardio.TerminalFactory;

import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.jmrtd.BACKey;
import org.jmrtd.PACEKeySpec;
import org.jmrtd.PassportService;
import org.jmrtd.lds.CardAccessFile;
import org.jmrtd.lds.ChipAuthenticationInfo;
import org.jmrtd.lds.ChipAuthenticationPublicKeyInfo;
import org.jmrtd.lds.PACEInfo;
import org.jmrtd.lds.SODFile;
import org.jmrtd.lds.SecurityInfo;
import org.jmrtd.lds.icao.DG14File;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 12, item 4: JMRTD reads the software CCCD ({@code virtual-card cccd}) through
 * javax.smartcardio on the same pcscd + vpcd as {@code citizen chip read}, with PACE-CAN and with
 * BAC. The files it reads (EF.COM, EF.SOD, DG1, DG13, DG14, DG15) equal ours byte for byte
 * ({@code citizen chip read --dump}), and its passive-authentication verdict — computed here
 * with JMRTD's SODFile and Bouncy Castle's CMS verifier: each data group's hash against the LDS
 * security object, the document signer's signature over the signed attributes, the DS
 * certificate under the CSCA, validity — equals ours, also for a card whose DG13 was changed
 * after EF.SOD was signed (both fail). The side-by-side figures of one full read are printed
 * and written to {@code target/chip-read-figures.txt}.
 */
class ChipReadCrossCheckTest {
    static final String READER = System.getProperty("vpcd.reader", "Virtual PCD 00 00");
    static final int PORT = Integer.getInteger("vpcd.port", 35963);
    static final String CARD_BIN = System.getProperty("virtual.card.bin");
    static final String CLI_BIN = System.getProperty("citizen.cli.bin");
    static final int REPETITIONS = Integer.getInteger("figures.repetitions", 3);

    /** The second fictitious citizen (tools/software-cccd/src/citizens.rs): number, DOB, expiry. */
    static final String ID_NUMBER = "079195000002";
    static final String CAN = ID_NUMBER.substring(6);
    static final String DOB = "950630";
    static final String EXPIRY = "350630";

    static final Map<String, Short> FILES = new LinkedHashMap<>();

    static {
        FILES.put("EF.COM", PassportService.EF_COM);
        FILES.put("DG14", PassportService.EF_DG14);
        FILES.put("EF.SOD", PassportService.EF_SOD);
        FILES.put("DG1", PassportService.EF_DG1);
        FILES.put("DG13", PassportService.EF_DG13);
        FILES.put("DG15", PassportService.EF_DG15);
    }

    static Path work;
    static Path csca;
    VirtualCardProcess card;

    @BeforeAll
    static void exportTheTestCsca() throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        work = Path.of(System.getProperty("jmrtd.out", "target/x")).getParent().resolve("chip-read");
        Files.createDirectories(work);
        csca = work.resolve("csca.der");
        Process p = new ProcessBuilder(CARD_BIN, "export-csca", csca.toString()).inheritIO().start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, "virtual-card export-csca");
    }

    @AfterEach
    void removeTheCard() throws Exception {
        if (card != null) {
            card.close();
            card = null;
            // pcscd notices the removal by polling vpcd; wait until the reader is empty.
            CardTerminal t = TerminalFactory.getDefault().terminals().getTerminal(READER);
            t.waitForCardAbsent(10_000);
        }
    }

    void place(String... options) throws Exception {
        card = VirtualCardProcess.place(CARD_BIN, PORT, "cccd", options);
        CardTerminal t = TerminalFactory.getDefault().terminals().getTerminal(READER);
        assertNotNull(t, "javax.smartcardio does not see " + READER);
        assertTrue(t.waitForCardPresent(10_000), "no card in " + READER);
    }

    /** What one JMRTD read produced. */
    record JmrtdRead(Map<String, byte[]> files, boolean chipAuthenticated, boolean passiveAuthentication, String paFailure,
            int apdus, long bytesSent, long bytesReceived, long totalNanos, long transportNanos) { }

    /** A full read by JMRTD: access control, SELECT, EF.COM, DG14 + chip authentication, EF.SOD,
     *  DG1, DG13, DG15 (our reader's order), then passive authentication. */
    static JmrtdRead readWithJmrtd(boolean pace) throws Exception {
        CardTerminal terminal = TerminalFactory.getDefault().terminals().getTerminal(READER);
        SmartcardioCardService cs = new SmartcardioCardService(terminal);
        PassportService service = new PassportService(
                cs, PassportService.NORMAL_MAX_TRANCEIVE_LENGTH, PassportService.DEFAULT_MAX_BLOCKSIZE, false, false);
        long start = System.nanoTime();
        service.open();
        try {
            if (pace) {
                CardAccessFile cardAccess = new CardAccessFile(service.getInputStream(PassportService.EF_CARD_ACCESS));
                PACEInfo info = null;
                for (SecurityInfo si : cardAccess.getSecurityInfos()) {
                    if (si instanceof PACEInfo p) {
                        info = p;
                    }
                }
                assertNotNull(info, "a PACEInfo in EF.CardAccess");
                BigInteger id = info.getParameterId();
                service.doPACE(PACEKeySpec.createCANKey(CAN), info.getObjectIdentifier(), PACEInfo.toParameterSpec(id), id);
                service.sendSelectApplet(true);
            } else {
                service.sendSelectApplet(false);
                service.doBAC(new BACKey(ID_NUMBER.substring(3), DOB, EXPIRY));
            }
            Map<String, byte[]> files = new LinkedHashMap<>();
            boolean chipAuthenticated = false;
            for (Map.Entry<String, Short> f : FILES.entrySet()) {
                try (InputStream in = service.getInputStream(f.getValue(), PassportService.DEFAULT_MAX_BLOCKSIZE)) {
                    files.put(f.getKey(), in.readAllBytes());
                }
                if (f.getKey().equals("DG14")) {
                    DG14File dg14 = new DG14File(new ByteArrayInputStream(files.get("DG14")));
                    ChipAuthenticationInfo ca = dg14.getChipAuthenticationInfos().get(0);
                    ChipAuthenticationPublicKeyInfo key = dg14.getChipAuthenticationPublicKeyInfos().get(0);
                    service.doEACCA(key.getKeyId(), ca.getObjectIdentifier(), key.getObjectIdentifier(),
                            key.getSubjectPublicKey());
                    chipAuthenticated = true;
                }
            }
            String failure = passiveAuthentication(files, loadCsca());
            long total = System.nanoTime() - start;
            return new JmrtdRead(files, chipAuthenticated, failure == null, failure, cs.apduCount(), cs.bytesSent(),
                    cs.bytesReceived(), total, cs.transportNanos());
        } finally {
            service.close();
        }
    }

    static X509Certificate loadCsca() throws Exception {
        try (InputStream in = Files.newInputStream(csca)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509", "BC").generateCertificate(in);
        }
    }

    /** Passive authentication by JMRTD + Bouncy Castle; {@code null} when it passes, else why not. */
    static String passiveAuthentication(Map<String, byte[]> files, X509Certificate cscaCert) throws Exception {
        byte[] sodBytes = files.get("EF.SOD");
        SODFile sod = new SODFile(new ByteArrayInputStream(sodBytes));
        MessageDigest md = MessageDigest.getInstance(sod.getDigestAlgorithm());
        Map<Integer, byte[]> hashes = sod.getDataGroupHashes();
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            if (!f.getKey().startsWith("DG")) {
                continue;
            }
            int n = Integer.parseInt(f.getKey().substring(2));
            byte[] expected = hashes.get(n);
            if (expected == null || !Arrays.equals(expected, md.digest(f.getValue()))) {
                return "hash of " + f.getKey();
            }
        }
        CMSSignedData cms = new CMSSignedData(unwrapTag77(sodBytes));
        SignerInformation signer = cms.getSignerInfos().getSigners().iterator().next();
        @SuppressWarnings("unchecked")
        X509CertificateHolder holder = (X509CertificateHolder) cms.getCertificates().getMatches(signer.getSID()).iterator().next();
        if (!signer.verify(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(holder))) {
            return "SOD signature";
        }
        X509Certificate ds = new JcaX509CertificateConverter().setProvider("BC").getCertificate(holder);
        try {
            ds.verify(cscaCert.getPublicKey(), "BC");
        } catch (Exception e) {
            return "DS not signed by the CSCA: " + e;
        }
        ds.checkValidity();
        cscaCert.checkValidity();
        return null;
    }

    /** EF.SOD is {@code 77 L ContentInfo}: the CMS structure inside the application tag. */
    static byte[] unwrapTag77(byte[] sod) throws IOException {
        if (sod[0] != 0x77) {
            throw new IOException("EF.SOD does not start with tag 77");
        }
        int lenByte = sod[1] & 0xFF;
        int offset = 2;
        if (lenByte > 0x80) {
            offset += lenByte - 0x80;
        }
        return Arrays.copyOfRange(sod, offset, sod.length);
    }

    /** Our reader: {@code citizen chip read --json --dump DIR}; its exit status, JSON and stderr. */
    record OurRead(int status, String stdout, String stderr, Path dump) { }

    static OurRead readWithCitizen(String... access) throws Exception {
        Path dump = Files.createTempDirectory(work, "dump");
        List<String> cmd = new ArrayList<>(List.of(CLI_BIN, "chip", "read", "--reader", READER, "--json", "--csca",
                csca.toString(), "--dump", dump.toString()));
        cmd.addAll(List.of(access));
        Process p = new ProcessBuilder(cmd).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "citizen chip read did not finish");
        return new OurRead(p.exitValue(), out.trim(), err, dump);
    }

    static void assertSameFiles(JmrtdRead jmrtd, Path dump, String how) throws IOException {
        for (String name : FILES.keySet()) {
            assertArrayEquals(Files.readAllBytes(dump.resolve(name + ".bin")), jmrtd.files().get(name), name + " (" + how + ")");
        }
    }

    @Test
    void jmrtdAndCitizenChipReadAgreeOnFilesAndPassiveAuthenticationWithPaceCanAndBac() throws Exception {
        place("--citizen", "1");
        OurRead ours = readWithCitizen("--can", CAN);
        assertEquals(0, ours.status(), ours.stderr());
        assertTrue(ours.stdout().contains("\"passive_authentication\":{\"data_groups\":[1,13,14,15],\"result\":\"verified\"}"),
                ours.stdout());

        JmrtdRead pace = readWithJmrtd(true);
        assertTrue(pace.passiveAuthentication(), "JMRTD's passive authentication (PACE-CAN): " + pace.paFailure());
        assertTrue(pace.chipAuthenticated());
        assertSameFiles(pace, ours.dump(), "JMRTD with PACE-CAN");

        JmrtdRead bac = readWithJmrtd(false);
        assertTrue(bac.passiveAuthentication(), "JMRTD's passive authentication (BAC): " + bac.paFailure());
        assertSameFiles(bac, ours.dump(), "JMRTD with BAC");

        // Ours with the MRZ data as well.
        OurRead mrz = readWithCitizen("--mrz", ID_NUMBER + "," + DOB + "," + EXPIRY);
        assertEquals(0, mrz.status(), mrz.stderr());
        assertSameFiles(bac, mrz.dump(), "ours with the MRZ");
    }

    @Test
    void bothReadersFailPassiveAuthenticationOfATamperedDg13() throws Exception {
        place("--citizen", "1", "--tamper-dg", "13");
        JmrtdRead jmrtd = readWithJmrtd(true);
        assertFalse(jmrtd.passiveAuthentication(), "JMRTD accepted a changed DG13");
        assertEquals("hash of DG13", jmrtd.paFailure());

        OurRead ours = readWithCitizen("--can", CAN);
        assertEquals(8, ours.status(), ours.stderr());
        assertTrue(ours.stderr().contains("error [chip.hash_mismatch]"), ours.stderr());
        assertTrue(ours.stdout().isEmpty(), "no record from a card that failed verification");
    }

    @Test
    void sideBySideFiguresOfOneFullRead() throws Exception {
        place("--citizen", "1");
        List<Double> jTotal = new ArrayList<>();
        List<Double> jCore = new ArrayList<>();
        List<Double> oTotal = new ArrayList<>();
        List<Double> oCore = new ArrayList<>();
        JmrtdRead last = null;
        String lastOurs = null;
        for (int i = 0; i < REPETITIONS; i++) {
            last = readWithJmrtd(true);
            assertTrue(last.passiveAuthentication());
            jTotal.add(last.totalNanos() / 1e6);
            jCore.add((last.totalNanos() - last.transportNanos()) / 1e6);
            OurRead ours = readWithCitizen("--can", CAN);
            assertEquals(0, ours.status(), ours.stderr());
            lastOurs = ours.stdout();
            double core = Double.parseDouble(topLevel(lastOurs, "core_ms"));
            double transport = Double.parseDouble(topLevel(lastOurs, "transport_ms"));
            oTotal.add(core + transport);
            oCore.add(core);
        }
        String stats = topLevel(lastOurs, "stats");
        String text = String.format(
                "full read (PACE-CAN brainpoolP256r1, SM, EF.COM, DG14 + CA, EF.SOD, DG1, DG13, DG15, PA) through pcscd + vpcd, %d repetitions%n"
                        + "  citizen chip read: %s; read time min %.1f / median %.1f ms, core (excl. transport) min %.1f / median %.1f ms (+ active authentication)%n"
                        + "  JMRTD 0.8.1:       {\"apdus\":%d,\"bytes_sent\":%d,\"bytes_received\":%d}; read time min %.1f / median %.1f ms, core (excl. transport) min %.1f / median %.1f ms%n",
                REPETITIONS, stats, min(oTotal), median(oTotal), min(oCore), median(oCore), last.apdus(), last.bytesSent(),
                last.bytesReceived(), min(jTotal), median(jTotal), min(jCore), median(jCore));
        System.out.print(text);
        Files.writeString(work.resolve("../chip-read-figures.txt").normalize(), text, StandardCharsets.UTF_8);
    }

    /** The raw value of a key of the outermost object only (the per-step objects of
     *  {@code citizen chip read --json} repeat {@code core_ms} and {@code transport_ms}). */
    static String topLevel(String json, String key) throws IOException {
        String marker = "\"" + key + "\":";
        int depth = 0;
        boolean inString = false;
        for (int i = 0; i < json.length(); i++) {
            char c = json.charAt(i);
            if (c == '\\' && inString) {
                i++;
            } else if (c == '"') {
                if (!inString && depth == 1 && json.startsWith(marker, i)) {
                    return CardAccessCrossCheckTest.jsonValue("{" + json.substring(i), key);
                }
                inString = !inString;
            } else if (!inString && (c == '{' || c == '[')) {
                depth++;
            } else if (!inString && (c == '}' || c == ']')) {
                depth--;
            }
        }
        throw new IOException("no top-level " + key + " in " + json);
    }

    static double min(List<Double> v) {
        return Collections.min(v);
    }

    static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        Collections.sort(s);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }
}
