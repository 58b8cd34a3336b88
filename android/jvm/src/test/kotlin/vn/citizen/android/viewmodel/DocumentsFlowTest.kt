package vn.citizen.android.viewmodel

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import vn.citizen.core.CitizenException
import vn.citizen.core.DocumentType
import vn.citizen.core.Language
import vn.citizen.core.TestServer
import java.nio.file.Path

/**
 * The documents wallet through [DocumentsViewModel] (issue 13): refresh fetches the four
 * documents, one opens with Vietnamese labels and its portrait (English labels in an English
 * UI), one is deleted; a refresh after logout shows the core's error in the UI language and
 * keeps the held list.
 */
class DocumentsFlowTest {

    @Test
    fun `refresh gets four documents, detail is labelled in the UI language, delete removes one, errors keep the list`(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        TestServer.start(serverDir).use { server ->
            openCore(server, phoneDir).use { core ->
                enrollThroughViewModel(server, core, Citizens.C1)
                val login = LoginViewModel(core)
                assertTrue(login.login(PASSCODE), login.state.value.error.toString())

                val vm = DocumentsViewModel(core.documents(), Language.VI)
                assertTrue(vm.load(), vm.state.value.error.toString())
                assertTrue(vm.state.value.documents.isEmpty())
                assertNull(vm.state.value.trustListFetchedAt)

                assertTrue(vm.refresh(), vm.state.value.error.toString())
                val listed = vm.state.value.documents
                assertEquals(
                    listOf(
                        DocumentType.CITIZEN_ID_CARD, DocumentType.DRIVING_LICENCE,
                        DocumentType.HEALTH_INSURANCE_CARD, DocumentType.VEHICLE_REGISTRATION,
                    ),
                    listed.map { it.documentType },
                )
                assertNotNull(vm.state.value.trustListFetchedAt)
                assertFalse(vm.state.value.busy)
                assertNull(vm.state.value.error)
                assertEquals(listed[1].titleVi, vm.title(listed[1]))

                // The driving licence: Vietnamese labels, the holder's date of birth, the portrait.
                assertTrue(vm.open(listed[1].id), vm.state.value.error.toString())
                val open = vm.state.value
                assertEquals(listed[1].id, open.detail?.summary?.id)
                val birth = open.fields.single { it.identifier == "birth_date" }
                assertEquals("Ngày sinh", birth.label)
                assertEquals(Citizens.C1.dob, birth.value)
                val portrait = open.portrait ?: error("no portrait")
                assertEquals(0xff.toByte(), portrait[0])

                // The same document in an English UI.
                val en = DocumentsViewModel(core.documents(), Language.EN)
                assertTrue(en.open(listed[1].id), en.state.value.error.toString())
                assertEquals("Date of birth", en.state.value.fields.single { it.identifier == "birth_date" }.label)
                assertEquals(listed[1].titleEn, en.title(listed[1]))

                // Delete the open one: the list has three left and the detail closes.
                assertTrue(vm.delete(listed[1].id), vm.state.value.error.toString())
                val afterDelete = vm.state.value
                assertEquals(3, afterDelete.documents.size)
                assertTrue(afterDelete.documents.none { it.id == listed[1].id })
                assertNull(afterDelete.detail)
                assertTrue(afterDelete.fields.isEmpty())
                assertEquals(3, core.documents().list().size)

                // Gone: opening it again is the core's "unknown document", in Vietnamese.
                assertFalse(vm.open(listed[1].id))
                assertEquals("documents.unknown", vm.state.value.error?.code)

                // Logged out: refresh fails with the core's error in Vietnamese; the list stays.
                assertTrue(login.logout(), login.state.value.error.toString())
                val expected = try {
                    core.documents().refresh()
                    error("refresh succeeded while logged out")
                } catch (e: CitizenException) {
                    e.detail()
                }
                assertFalse(vm.refresh())
                val failed = vm.state.value
                assertEquals(expected.code, failed.error?.code)
                assertEquals(expected.messageVi, failed.error?.message)
                assertEquals(afterDelete.documents.map { it.id }, failed.documents.map { it.id })
                assertFalse(failed.busy)

                // A later success clears the error.
                assertTrue(vm.load(), vm.state.value.error.toString())
                assertNull(vm.state.value.error)
                assertEquals(3, vm.state.value.documents.size)
            }
        }
    }
}
