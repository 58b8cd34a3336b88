package vn.citizen.android.app.ui

import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.FilterChip
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateMapOf
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import vn.citizen.android.viewmodel.ServicesViewModel
import vn.citizen.core.Condition
import vn.citizen.core.Draft
import vn.citizen.core.FieldKind
import vn.citizen.core.OptionSpec

/** Catalogue → form (auto-filled, locked register fields) → submit → outbox and case status. */
@Composable
fun ServicesScreen(vm: ServicesViewModel, launch: Launch) {
    val s by vm.state.collectAsStateWithLifecycle()
    LaunchedEffect(vm) { vm.loadCatalogue(); vm.sync() }
    val draft = s.draft
    val procedure = s.procedure
    if (draft == null || procedure == null) {
        ScreenColumn("Dịch vụ công / Public services", s.busy, s.error) {
            s.procedures.forEach { p ->
                Card(Modifier.fillMaxWidth()) {
                    Text(p.nameVi)
                    Text("${p.agencyVi} · ${p.processingDays} ngày · ${p.feeVnd} đ")
                    Button(onClick = { launch { vm.open(p.id) } }, enabled = !s.busy) { Text("Nộp hồ sơ / Apply") }
                }
            }
            Text("Hồ sơ đã nộp / Submitted")
            s.outbox.forEach { item ->
                Text("${item.procedureId}: ${item.state}" + (item.caseNumber?.let { " · $it" } ?: "") +
                    (item.lastError?.let { " · ${it.messageVi}" } ?: ""))
            }
            s.cases.forEach { c -> Text("${c.caseNumber}: ${c.status}" + (c.noteVi?.let { " — $it" } ?: "")) }
            OutlinedButton(onClick = { launch { vm.sync() } }, enabled = !s.busy) { Text("Cập nhật / Sync") }
        }
        return
    }
    val edits = remember(draft.draftId) { mutableStateMapOf<String, String>() }
    var passcode by remember { mutableStateOf("") }
    fun value(path: String) = edits[path] ?: draft.values[path].orEmpty()
    ScreenColumn(procedure.nameVi, s.busy, s.error) {
        if (draft.status == vn.citizen.core.DraftStatus.SUBMITTED) {
            val item = s.submitted
            Text("Đã nộp / Submitted: ${item?.state}" + (item?.caseNumber?.let { " · Mã hồ sơ $it" } ?: ""))
            s.cases.firstOrNull { it.submissionId == item?.submissionId }?.let { Text("Trạng thái / Status: ${it.status}") }
            OutlinedButton(onClick = { launch { vm.sync() } }) { Text("Cập nhật / Sync") }
            Button(onClick = { vm.close() }) { Text("Xong / Done") }
            return@ScreenColumn
        }
        procedure.fields.filter { visible(it.visibleIf, draft) }.forEach { field ->
            if (field.kind == FieldKind.GROUP) {
                Text(field.labelVi)
                val count = draft.groupItems[field.key]?.toInt() ?: 0
                for (i in 0 until count) {
                    field.itemFields.forEach { item ->
                        val path = "${field.key}.$i.${item.key}"
                        FormInput(path, item.labelVi, item.kind, item.options, item.locked || path in draft.lockedFields,
                            value(path), s.fieldError(path)?.message) { edits[path] = it }
                    }
                }
                OutlinedButton(onClick = { launch { vm.addGroupItem(field.key) } }) { Text("Thêm / Add") }
            } else {
                FormInput(field.key, field.labelVi, field.kind, field.options, field.locked || field.key in draft.lockedFields,
                    value(field.key), s.fieldError(field.key)?.message) { edits[field.key] = it }
            }
        }
        OutlinedButton(onClick = { launch { commit(vm, edits); vm.validate() } }, enabled = !s.busy) { Text("Kiểm tra / Check") }
        PasscodeField(passcode, { passcode = it }, "Mã khóa để ký và nộp / Passcode to sign and submit")
        Button(
            onClick = { launch { commit(vm, edits); vm.submit(passcode) } },
            enabled = !s.busy && passcode.length == 6,
            modifier = Modifier.fillMaxWidth(),
        ) { Text("Nộp / Submit") }
    }
}

/** Save the pending edits in one write (`updateDraft`), not one per keystroke. */
private suspend fun commit(vm: ServicesViewModel, edits: MutableMap<String, String>) {
    val pending = edits.toMap()
    if (vm.updateFields(pending)) pending.keys.forEach(edits::remove)
}

private fun visible(condition: Condition?, draft: Draft): Boolean =
    condition == null || draft.values[condition.field] in condition.anyOf

@Composable
private fun FormInput(
    path: String,
    label: String,
    kind: FieldKind,
    options: List<OptionSpec>,
    locked: Boolean,
    value: String,
    error: String?,
    onChange: (String) -> Unit,
) {
    if (kind == FieldKind.SELECT && !locked) {
        Text(label)
        Row {
            options.forEach { o -> FilterChip(selected = value == o.value, onClick = { onChange(o.value) }, label = { Text(o.labelVi) }) }
        }
        error?.let { Text(it) }
    } else {
        // Locked fields come from the population register: shown, not editable.
        Field(value, onChange, if (locked) "$label (CSDL dân cư)" else label, error, enabled = !locked)
    }
}
