package vn.citizen.android.app.ui

import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.Checkbox
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import vn.citizen.android.viewmodel.ActivityViewModel
import vn.citizen.android.viewmodel.ShareViewModel
import vn.citizen.core.ShareDelivery

/** A relying party's request (pasted, or from a link): required claims, optional ones to pick. */
@Composable
fun ShareScreen(vm: ShareViewModel, launch: Launch, onDone: () -> Unit) {
    val s by vm.state.collectAsStateWithLifecycle()
    var requestText by remember { mutableStateOf("") }
    var passcode by remember { mutableStateOf("") }
    ScreenColumn("Chia sẻ dữ liệu / Share data", s.busy, s.error) {
        val request = s.request
        val outcome = s.outcome
        when {
            request == null -> {
                Field(requestText, { requestText = it.trim() }, "Yêu cầu / Request")
                Button(onClick = { launch { vm.open(requestText) } }, enabled = requestText.isNotEmpty() && !s.busy) { Text("Mở / Open") }
            }
            outcome != null -> {
                Text("Đã chia sẻ / Shared: " + outcome.disclosedClaims.joinToString())
                Button(onClick = onDone) { Text("Xong / Done") }
            }
            else -> {
                Text(request.relyingPartyNameVi)
                Text(request.purposeVi)
                Text("Lưu giữ ${request.retentionDays} ngày / kept ${request.retentionDays} days")
                Text("Bắt buộc / Required: " + request.required.joinToString { it.labelVi })
                request.optional.forEach { claim ->
                    Row {
                        Checkbox(checked = claim.name in s.selectedOptional, onCheckedChange = { vm.toggleOptional(claim.name) })
                        Text(claim.labelVi)
                    }
                }
                PasscodeField(passcode, { passcode = it })
                Button(onClick = { launch { vm.share(passcode) } }, enabled = !s.busy && passcode.length == 6, modifier = Modifier.fillMaxWidth()) {
                    Text("Chia sẻ / Share")
                }
                OutlinedButton(onClick = onDone, modifier = Modifier.fillMaxWidth()) { Text("Hủy / Cancel") }
            }
        }
    }
}

/** The activity log (newest first), its verification, and the consent receipts. */
@Composable
fun ActivityScreen(vm: ActivityViewModel, launch: Launch) {
    val s by vm.state.collectAsStateWithLifecycle()
    LaunchedEffect(vm) { vm.refresh(); vm.verify() }
    ScreenColumn("Nhật ký / Activity", s.busy, s.error) {
        s.report?.let { r ->
            Text(
                if (r.intact) "Nhật ký toàn vẹn (${r.entries} mục, ${r.anchors} mốc) / Log intact"
                else "Nhật ký có vấn đề / Log problems: ${r.problems.size}",
            )
        }
        OutlinedButton(onClick = { launch { vm.anchor(); vm.verify() } }, enabled = !s.busy) { Text("Neo lên máy chủ / Anchor now") }
        Text("Biên nhận / Receipts")
        s.receipts.forEach { r ->
            Card(Modifier.fillMaxWidth()) {
                val damage = r.damage
                if (damage != null) {
                    // A receipt the device can no longer show (damaged or deleted row).
                    Text("#${r.sequence} ${damage.messageVi} / ${damage.messageEn}")
                } else {
                    Text("#${r.sequence} ${r.kind} · ${r.relyingPartyName} · ${formatTime(r.issuedAt)}")
                    Text(r.claims.joinToString())
                    when (r.delivery) {
                        ShareDelivery.DELIVERED -> Text("Đã gửi đến đơn vị nhận / Delivered")
                        ShareDelivery.REFUSED -> Text("Đơn vị nhận đã từ chối / Refused by the recipient")
                        ShareDelivery.NOT_DELIVERED -> Text("Chưa gửi được / Not delivered")
                        ShareDelivery.UNKNOWN -> Text("Không rõ đã đến đơn vị nhận chưa / Delivery unknown")
                        ShareDelivery.NOT_APPLICABLE -> {}
                    }
                }
            }
        }
        Text("Hoạt động / Entries")
        s.entries.forEach { e -> Text("#${e.seq} ${formatTime(e.at)} ${e.kind}: ${e.summary}") }
    }
}
