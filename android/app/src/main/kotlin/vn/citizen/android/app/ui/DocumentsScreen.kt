package vn.citizen.android.app.ui

import android.graphics.BitmapFactory
import androidx.activity.compose.BackHandler
import androidx.compose.foundation.Image
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.heightIn
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.remember
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import vn.citizen.android.viewmodel.DocumentsViewModel

/**
 * The documents wallet: the held documents (offline) → one opened with its fields labelled in
 * the UI language and its portrait → delete from this phone; refresh fetches and checks them.
 */
@Composable
fun DocumentsScreen(vm: DocumentsViewModel, launch: Launch) {
    val s by vm.state.collectAsStateWithLifecycle()
    LaunchedEffect(vm) { vm.load() }
    val detail = s.detail
    if (detail == null) {
        ScreenColumn("Giấy tờ / Documents", s.busy, s.error) {
            if (s.documents.isEmpty() && !s.busy) Text("Chưa có giấy tờ / No documents yet")
            s.documents.forEach { d ->
                Card(Modifier.fillMaxWidth()) {
                    Text(vm.title(d))
                    Text(d.issuer)
                    Text("Hiệu lực đến / Valid until ${formatTime(d.validUntil)}")
                    Button(onClick = { launch { vm.open(d.id) } }, enabled = !s.busy) { Text("Xem / Open") }
                }
            }
            s.trustListFetchedAt?.let { Text("Danh sách tin cậy / Trust list: ${formatTime(it)}") }
            OutlinedButton(onClick = { launch { vm.refresh() } }, enabled = !s.busy) { Text("Cập nhật / Refresh") }
        }
        return
    }
    BackHandler { vm.close() }
    ScreenColumn(vm.title(detail.summary), s.busy, s.error) {
        val portrait = s.portrait
        val bitmap = remember(portrait) { portrait?.let { BitmapFactory.decodeByteArray(it, 0, it.size) } }
        bitmap?.let {
            Image(it.asImageBitmap(), contentDescription = "Ảnh chân dung / Portrait", modifier = Modifier.heightIn(max = 180.dp))
        }
        s.fields.forEach { f ->
            Text(f.label)
            Text(f.value)
        }
        OutlinedButton(onClick = { launch { vm.delete(detail.summary.id) } }, enabled = !s.busy) {
            Text("Xoá khỏi máy / Delete from this phone")
        }
        Button(onClick = { vm.close() }, modifier = Modifier.fillMaxWidth()) { Text("Đóng / Close") }
    }
}
