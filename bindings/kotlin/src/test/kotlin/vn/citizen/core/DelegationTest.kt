package vn.citizen.core

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.time.LocalDate
import java.time.ZoneOffset
import java.time.format.DateTimeFormatter

/**
 * Delegation through the Kotlin bindings (issue 15 item 5, decisions 49 and 52): a parent lists
 * the children the register gives them, files a residence notification for one (prefilled from
 * the child's record, the mandate in the signed payload), fetches the child's health-insurance
 * card (bound to the parent's device key) and presents it with the mandate; a verifier, offline,
 * names the parent and the child. A replay under another nonce is refused with its code.
 */
class DelegationTest {

    @Test
    fun `a parent files for a child and presents the child's health-insurance card`(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
        @TempDir verifierDir: Path,
    ) = runBlocking<Unit> {
        TestServer.start(serverDir).use { server ->
            CitizenCore.open(server.config(phoneDir), JcaDeviceKeyStore(), JcaDataKeyWrapper()).use { core ->
                server.enrolAndLogin(core, PARENT_CCCD, PARENT_DOB, PARENT_PHONE, PASSCODE)
                core.services().refreshCatalogue()

                // The dependants the register gives the parent, each with an active mandate.
                val dependants = core.account().dependants()
                assertEquals(listOf(CHILD, YOUNGER), dependants.map { it.profile.cccd }.sorted())
                val child = dependants.first { it.profile.cccd == CHILD }
                assertEquals(GuardianRelation.PARENT, child.relation)
                assertEquals(MandateState.ACTIVE, child.mandate.state)
                assertTrue("health_insurance" in child.mandate.documentTypes)

                // The child's residence notification, prefilled and locked from the child's record.
                val draft = core.services().createDraftFor("residence-notification", CHILD)
                assertEquals(CHILD, draft.onBehalfOf)
                assertEquals(CHILD_NAME, draft.values["host_full_name"])
                val today = LocalDate.now(ZoneOffset.ofHours(7))
                core.services().updateDraft(draft.draftId, mapOf(
                    "guests.0.full_name" to "Khách Thử Nghiệm",
                    "guests.0.cccd" to "079195000002",
                    "guests.0.relationship" to "ban_be",
                    "reason" to "du_lich",
                    "from_date" to today.plusDays(1).format(DateTimeFormatter.ISO_LOCAL_DATE),
                    "to_date" to today.plusDays(5).format(DateTimeFormatter.ISO_LOCAL_DATE),
                ))
                core.services().submitDraft(draft.draftId, PASSCODE)
                assertEquals(0, core.services().syncOutbox().remaining)
                val filed = core.account().dependants().first { it.profile.cccd == CHILD }.cases
                assertEquals(listOf(PARENT_CCCD), filed.map { it.filedBy })

                // The child's health-insurance card, held apart from the parent's own documents.
                val docs = core.documents()
                val card = docs.fetchForDependant(CHILD, DocumentType.HEALTH_INSURANCE_CARD)
                assertEquals(CHILD_NAME, card.dependantName)
                assertEquals(listOf(card.id), docs.listForDependants().map { it.id })
                assertTrue(docs.list().isEmpty())

                val config = defaultVerifierConfig(server.baseUrl, verifierDir.toString())
                    .copy(trustAnchorsPem = listOf(server.caPem))
                Verifier.open(config).use { verifier ->
                    verifier.refreshTrust()
                    val share = docs.presentForDependant(
                        card.id, listOf("full_name", "insurance_number"), VERIFIER_ID, "nonce-1", PASSCODE,
                    )
                    val ok = verifier.verifyOnBehalf(share.presentation, VERIFIER_ID, "nonce-1")
                    assertEquals(PARENT_NAME, ok.guardianName)
                    assertEquals(CHILD_NAME, ok.dependantName)
                    assertEquals(
                        "Health insurance card of child $CHILD_NAME presented by parent $PARENT_NAME",
                        ok.summaryEn,
                    )
                    assertEquals(listOf("full_name", "insurance_number"), ok.fields.map { it.identifier }.sorted())

                    // Replayed under another nonce: refused with its own code.
                    val replay = assertThrows<CitizenException.Refused> {
                        runBlocking { verifier.verifyOnBehalf(share.presentation, VERIFIER_ID, "nonce-2") }
                    }
                    assertEquals("consent.presentation_replayed", replay.detail.code)
                }
                // Outside the mandate's scope: the child's driving licence is refused.
                val outOfScope = assertThrows<CitizenException.Refused> {
                    runBlocking { docs.fetchForDependant(CHILD, DocumentType.DRIVING_LICENCE) }
                }
                assertEquals("delegation.out_of_scope", outOfScope.detail.code)
            }
        }
    }

    private companion object {
        // Fictitious family of the reference server's register.
        const val PARENT_CCCD = "001090000001"
        const val PARENT_DOB = "1990-01-15"
        const val PARENT_PHONE = "+84900000001"
        const val PARENT_NAME = "Nguyễn Văn Mẫu"
        const val CHILD = "001216000012"
        const val CHILD_NAME = "Nguyễn Minh Con Mẫu"
        const val YOUNGER = "001319000013"
        const val PASSCODE = "135790"
        const val VERIFIER_ID = "verifier:benh-vien-mau"
    }
}
