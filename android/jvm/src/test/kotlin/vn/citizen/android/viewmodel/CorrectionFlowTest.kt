package vn.citizen.android.viewmodel

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import vn.citizen.core.CaseStatus
import vn.citizen.core.Language
import vn.citizen.core.OutboxState
import vn.citizen.core.TestServer
import java.nio.file.Path

/**
 * A correction of the citizen's place of origin through [CorrectionViewModel] (issue 16 item 1):
 * evidence is required before submitting; an official asks for a supplement, the citizen answers
 * it, the official approves, and the profile shows the corrected value; a proposal of the value
 * the register already holds is refused with its own message.
 */
class CorrectionFlowTest {

    @Test
    fun `a misspelt place of origin is corrected after a supplement`(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        TestServer.start(serverDir).use { server ->
            val registrar = server.addOfficial("CB-0500", "Công an xã Đông Anh", "register")
            val http = ServerHttp(server)
            fun decide(case: String, decision: String) = http.call(
                "POST", "/v1/official/corrections/decide", """{"case_number":"$case","decision":"$decision"}""",
                mapOf("X-Official-Token" to registrar),
            )
            openCore(server, phoneDir).use { core ->
                enrollThroughViewModel(server, core, Citizens.C1)
                assertTrue(LoginViewModel(core).login(PASSCODE))
                val vm = CorrectionViewModel(core.services(), Language.VI)
                assertTrue(vm.load(), vm.state.value.error.toString())
                assertEquals(BEFORE, vm.state.value.profile?.placeOfOrigin)

                assertTrue(vm.start(CorrectionViewModel.Field.PLACE_OF_ORIGIN), vm.state.value.error.toString())
                assertTrue(vm.describe(AFTER, "Tên xã bị ghi sai"), vm.state.value.error.toString())
                assertFalse(vm.submit(PASSCODE), "evidence is required for a place of origin")
                assertTrue(vm.state.value.fieldErrors.any { it.field == "evidence" }, vm.state.value.fieldErrors.toString())
                assertTrue(vm.attachEvidence("giay-khai-sinh.pdf", "application/pdf", "%PDF-1.4 fictitious".toByteArray()))
                assertTrue(vm.submit(PASSCODE), vm.state.value.error.toString())
                assertEquals(OutboxState.DELIVERED, vm.state.value.submitted?.state)
                val case = vm.state.value.case?.caseNumber ?: error("no case: ${vm.state.value}")

                decide(case, "request_supplement")
                vm.refresh()
                assertEquals(CaseStatus.NEEDS_SUPPLEMENT, vm.state.value.case?.status)
                assertTrue(vm.answerSupplement("ban-sao.pdf", "application/pdf", "%PDF-1.4 fictitious 2".toByteArray(), PASSCODE))
                assertEquals(CaseStatus.PROCESSING, vm.state.value.case?.status)

                decide(case, "approve")
                vm.refresh()
                assertTrue(vm.state.value.decided)
                assertEquals(CaseStatus.APPROVED, vm.state.value.case?.status)
                assertEquals(AFTER, vm.state.value.profile?.placeOfOrigin)

                // The same value again: refused by the server, shown with its message.
                assertTrue(vm.start(CorrectionViewModel.Field.PLACE_OF_ORIGIN))
                assertTrue(vm.describe(AFTER, "Nhập lại"))
                assertTrue(vm.attachEvidence("giay-khai-sinh.pdf", "application/pdf", "%PDF-1.4 fictitious".toByteArray()))
                assertTrue(vm.submit(PASSCODE))
                assertEquals(OutboxState.REJECTED, vm.state.value.submitted?.state)
                assertEquals("correction.unchanged", vm.state.value.submitted?.lastError?.code)
                assertTrue(vm.state.value.refusal!!.contains("trùng"), vm.state.value.refusal)
            }
        }
    }

    private companion object {
        const val BEFORE = "Xã Đông Anh, Thành phố Hà Nội"
        const val AFTER = "Xã Đông Anh Mới, Thành phố Hà Nội"
    }
}
