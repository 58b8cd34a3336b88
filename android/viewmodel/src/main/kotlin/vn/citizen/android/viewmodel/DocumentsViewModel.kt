package vn.citizen.android.viewmodel

import vn.citizen.core.DocumentDetail
import vn.citizen.core.DocumentField
import vn.citizen.core.DocumentSummary
import vn.citizen.core.DocumentsClientInterface
import vn.citizen.core.Language
import java.time.Instant

/**
 * The documents wallet (issue 13): the held documents (CCCD, driving licence, health insurance,
 * vehicle registration), fetched and checked by [refresh], listed offline, one opened with its
 * fields labelled in the UI language and its portrait, deleted from this device. A failed
 * refresh (offline, logged out, a document refused) keeps the held list and shows the error.
 */
class DocumentsViewModel(
    private val documents: DocumentsClientInterface,
    locale: Language = Language.VI,
) : FlowViewModel<DocumentsViewModel.State>(State(), locale) {

    /** One field of the open document, labelled in the UI language. */
    data class UiField(val identifier: String, val label: String, val value: String)

    data class State(
        val documents: List<DocumentSummary> = emptyList(),
        /** The open document (null: the list is shown). */
        val detail: DocumentDetail? = null,
        /** The open document's fields, labelled in the UI language. */
        val fields: List<UiField> = emptyList(),
        /** When the trust list the held documents were checked against was fetched. */
        val trustListFetchedAt: Instant? = null,
        val busy: Boolean = false,
        val error: UiError? = null,
    ) {
        /** The open document's portrait (JPEG bytes), if it has one. */
        val portrait: ByteArray? get() = detail?.portrait
    }

    private val busy: (State, Boolean) -> State = { s, b -> s.copy(busy = b) }
    private val fail: (State, Throwable, UiError) -> State = { s, _, e -> s.copy(error = e) }

    /** A document's name in the UI language. */
    fun title(summary: DocumentSummary): String = if (locale == Language.VI) summary.titleVi else summary.titleEn

    private fun DocumentField.toUi() = UiField(identifier, if (locale == Language.VI) labelVi else labelEn, value)

    /** The held documents (offline, never prompts). */
    suspend fun load(): Boolean {
        val (listed, fetchedAt) = attempt(busy, fail) {
            documents.list() to documents.trustListFetchedAt()
        } ?: return false
        update { it.copy(documents = listed, trustListFetchedAt = fetchedAt, error = null) }
        return true
    }

    /**
     * Fetch the citizen's documents from the server (signed with the device key: may prompt),
     * checked before anything is stored. On failure the held list stays and the error is shown.
     */
    suspend fun refresh(): Boolean {
        val (listed, fetchedAt) = attempt(busy, fail) {
            documents.refresh() to documents.trustListFetchedAt()
        } ?: return false
        update { s ->
            val open = s.detail?.summary?.id
            s.copy(
                documents = listed,
                trustListFetchedAt = fetchedAt,
                // The refreshed set replaces the held one: an open document that is gone closes.
                detail = s.detail?.takeIf { listed.any { d -> d.id == open } },
                fields = if (listed.any { d -> d.id == open }) s.fields else emptyList(),
                error = null,
            )
        }
        return true
    }

    /** Open one held document: its fields labelled in the UI language and its portrait. */
    suspend fun open(id: String): Boolean {
        val detail = attempt(busy, fail) { documents.get(id) } ?: return false
        update { it.copy(detail = detail, fields = detail.fields.map { f -> f.toUi() }, error = null) }
        return true
    }

    /** Back to the list. */
    fun close() = update { it.copy(detail = null, fields = emptyList(), error = null) }

    /** Delete a held document from this device ([refresh] fetches it again). */
    suspend fun delete(id: String): Boolean {
        attempt(busy, fail) { documents.delete(id) } ?: return false
        val listed = documents.list()
        update { s ->
            val closing = s.detail?.summary?.id == id
            s.copy(
                documents = listed,
                detail = if (closing) null else s.detail,
                fields = if (closing) emptyList() else s.fields,
                error = null,
            )
        }
        return true
    }
}
