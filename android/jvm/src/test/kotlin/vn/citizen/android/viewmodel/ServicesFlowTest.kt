package vn.citizen.android.viewmodel

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import vn.citizen.core.CaseStatus
import vn.citizen.core.KeyOptions
import vn.citizen.core.JcaDeviceKeyStore
import vn.citizen.core.DraftStatus
import vn.citizen.core.Language
import vn.citizen.core.OutboxState
import vn.citizen.core.TestServer
import java.nio.file.Path
import java.time.LocalDate
import java.time.ZoneOffset
import java.time.format.DateTimeFormatter

/**
 * A residence notification through [ServicesViewModel]: catalogue → draft auto-filled from the
 * register (locked fields refused) → fill → validate → submit → delivered with a case number →
 * an official approves → the citizen sees it approved.
 */
class ServicesFlowTest {

    @Test
    fun `residence notification is auto-filled, submitted, delivered and approved`(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        TestServer.start(serverDir).use { server ->
            openCore(server, phoneDir).use { core ->
                enrollThroughViewModel(server, core, Citizens.C7)
                assertTrue(LoginViewModel(core).login(PASSCODE))

                val vm = ServicesViewModel(core.services(), Language.VI)
                assertTrue(vm.loadCatalogue(), vm.state.value.error.toString())
                assertTrue(vm.state.value.procedures.any { it.id == PROCEDURE }, vm.state.value.procedures.map { it.id }.toString())

                assertTrue(vm.open(PROCEDURE), vm.state.value.error.toString())
                val opened = vm.state.value
                assertEquals(PROCEDURE, opened.procedure?.id)
                val draft = opened.draft ?: error("no draft")
                assertEquals(DraftStatus.EDITING, draft.status)
                val profile = core.services().getProfile()
                assertEquals(profile.fullName, draft.values["host_full_name"])
                assertEquals(Citizens.C7.cccd, draft.values["host_cccd"])
                assertTrue("host_full_name" in draft.lockedFields, draft.lockedFields.toString())

                // A register field cannot be changed: a field error, the value stays.
                assertFalse(vm.updateFields(mapOf("host_full_name" to "Người Khác", "reason" to "du_lich")))
                assertEquals("field.locked", vm.state.value.fieldError("host_full_name")?.code)
                assertEquals(profile.fullName, vm.state.value.draft?.values?.get("host_full_name"))
                // All or nothing: the acceptable value in the same update was not saved either.
                assertEquals(null, core.services().getDraft(draft.draftId).values["reason"])

                // Missing fields are reported by validate (offline).
                assertFalse(vm.validate())
                assertTrue(vm.state.value.fieldErrors.isNotEmpty())

                val today = LocalDate.now(ZoneOffset.ofHours(7))
                // The screen's pending edits are saved in one write.
                val edits = mapOf(
                    "guests.0.full_name" to "Khách Thử Nghiệm",
                    "guests.0.cccd" to "079195000002",
                    "guests.0.relationship" to "ban_be",
                    "reason" to "du_lich",
                    "from_date" to today.plusDays(1).format(DateTimeFormatter.ISO_LOCAL_DATE),
                    "to_date" to today.plusDays(5).format(DateTimeFormatter.ISO_LOCAL_DATE),
                )
                assertTrue(vm.updateFields(edits), vm.state.value.error.toString())
                assertTrue(vm.validate(), vm.state.value.fieldErrors.toString())
                assertTrue(vm.state.value.fieldErrors.isEmpty())

                // Submit: signed, queued, and delivered at once (the server is up).
                assertTrue(vm.submit(PASSCODE), vm.state.value.error.toString())
                val afterSubmit = vm.state.value
                val submitted = afterSubmit.submitted ?: error("nothing submitted")
                assertEquals(OutboxState.DELIVERED, submitted.state, afterSubmit.toString())
                val caseNumber = submitted.caseNumber ?: error("delivered without a case number")
                assertEquals(3, submitted.receipt?.split('.')?.size, submitted.receipt)
                assertEquals(DraftStatus.SUBMITTED, afterSubmit.draft?.status)
                assertEquals(0, afterSubmit.lastSync?.remaining) // submitDraft already tried delivery
                assertNull(afterSubmit.error)
                assertEquals(CaseStatus.RECEIVED, afterSubmit.cases.single { it.caseNumber == caseNumber }.status)

                // An official takes the case and approves it; the next sync shows it.
                val http = ServerHttp(server)
                http.transitionCase(caseNumber, "processing")
                http.transitionCase(caseNumber, "approved")
                assertTrue(vm.sync(), vm.state.value.error.toString())
                assertEquals(CaseStatus.APPROVED, vm.state.value.cases.single { it.caseNumber == caseNumber }.status)
                assertEquals(0, vm.state.value.lastSync?.remaining)
            }
        }
    }

    /**
     * Issue 11, item 3 through the view models: with a device key that needs the citizen for
     * every use (as on a phone), a submit and the sync after it (delivery, case events, anchor)
     * show exactly one prompt, the submit's; the log entries and the anchor use the bookkeeping key.
     */
    @Test
    fun `a submit and a background sync through the view model prompt exactly once`(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        TestServer.start(serverDir).use { server ->
            val keyStore = JcaDeviceKeyStore()
            openCore(server, phoneDir, keyStore = keyStore).use { core ->
                val userAuth = KeyOptions(requireUserAuthentication = true, preferStrongbox = true, attestationChallenge = byteArrayOf())
                enrollThroughViewModel(server, core, Citizens.C7, keyOptions = userAuth)
                assertTrue(LoginViewModel(core).login(PASSCODE))
                val vm = ServicesViewModel(core.services(), Language.VI)
                assertTrue(vm.loadCatalogue(), vm.state.value.error.toString())
                assertTrue(vm.open(PROCEDURE), vm.state.value.error.toString())
                val today = LocalDate.now(ZoneOffset.ofHours(7))
                val edits = mapOf(
                    "guests.0.full_name" to "Khách Thử Nghiệm",
                    "guests.0.cccd" to "079195000002",
                    "guests.0.relationship" to "ban_be",
                    "reason" to "du_lich",
                    "from_date" to today.plusDays(1).format(DateTimeFormatter.ISO_LOCAL_DATE),
                    "to_date" to today.plusDays(5).format(DateTimeFormatter.ISO_LOCAL_DATE),
                )
                assertTrue(vm.updateFields(edits), vm.state.value.error.toString())
                val before = keyStore.prompts
                assertTrue(vm.submit(PASSCODE), vm.state.value.error.toString())
                assertTrue(vm.sync(), vm.state.value.error.toString())
                assertEquals(0, vm.state.value.lastSync?.remaining)
                assertEquals(1, keyStore.prompts - before, "the submit's prompt only: ${keyStore.requests}")
            }
        }
    }

    private companion object {
        const val PROCEDURE = "residence-notification"
    }
}
