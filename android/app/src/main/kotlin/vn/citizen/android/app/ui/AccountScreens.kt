package vn.citizen.android.app.ui

import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.material3.Button
import androidx.compose.material3.Card
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
import vn.citizen.android.app.Screen
import vn.citizen.android.viewmodel.DevicesViewModel
import vn.citizen.android.viewmodel.EnrollmentViewModel
import vn.citizen.android.viewmodel.LoginViewModel
import vn.citizen.core.EnrollmentInput

/** Enrollment: details → OTP → passcode (typed twice) → done. */
@Composable
fun EnrollmentScreen(vm: EnrollmentViewModel, launch: Launch, onDone: () -> Unit) {
    val s by vm.state.collectAsStateWithLifecycle()
    ScreenColumn("Đăng ký tài khoản / Enrollment", s.busy, s.error) {
        when (s.step) {
            EnrollmentViewModel.Step.DETAILS -> {
                var cccd by remember { mutableStateOf("") }
                var dob by remember { mutableStateOf("") }
                var phone by remember { mutableStateOf("") }
                fun fieldError(name: String) = s.error?.fields?.firstOrNull { it.field == name }?.message
                Field(cccd, { cccd = it }, "Số CCCD", fieldError("cccd"))
                Field(dob, { dob = it }, "Ngày sinh (YYYY-MM-DD)", fieldError("date_of_birth"))
                Field(phone, { phone = it }, "Số điện thoại", fieldError("phone"))
                Button(onClick = { launch { vm.start(EnrollmentInput(cccd.trim(), dob.trim(), phone.trim())) } }, enabled = !s.busy) {
                    Text("Gửi mã OTP / Send OTP")
                }
            }
            EnrollmentViewModel.Step.OTP -> {
                var otp by remember { mutableStateOf("") }
                Text("Mã OTP đã gửi tới ${s.ticket?.maskedPhone}")
                if (s.ticket?.hasActiveDevice == true) {
                    Text("Tài khoản đang dùng trên điện thoại khác; điện thoại đó sẽ được thay thế. / Another phone is active; it will be replaced.")
                }
                Field(otp, { otp = it.filter(Char::isDigit) }, "OTP")
                Button(onClick = { vm.enterOtp(otp) }, enabled = !s.busy) { Text("Tiếp / Next") }
                OutlinedButton(onClick = { launch { vm.resendOtp() } }, enabled = !s.busy) { Text("Gửi lại / Resend") }
            }
            EnrollmentViewModel.Step.PASSCODE -> {
                var passcode by remember { mutableStateOf("") }
                var confirmation by remember { mutableStateOf("") }
                PasscodeField(passcode, { passcode = it }, "Mã khóa mới (6 số) / New passcode")
                PasscodeField(confirmation, { confirmation = it }, "Nhập lại / Repeat")
                Button(onClick = { launch { vm.complete(passcode, confirmation) } }, enabled = !s.busy) {
                    Text("Hoàn tất / Finish")
                }
            }
            EnrollmentViewModel.Step.DONE -> {
                val outcome = s.outcome
                Text(
                    if (outcome?.hardwareBacked == true) "Khóa thiết bị nằm trong phần cứng bảo mật. / The device key is in secure hardware."
                    else "Khóa thiết bị không nằm trong phần cứng bảo mật. / The device key is not hardware-backed.",
                )
                Button(onClick = onDone) { Text("Đăng nhập / Log in") }
            }
        }
    }
}

/** Passcode login with the lockout state. */
@Composable
fun LoginScreen(vm: LoginViewModel, launch: Launch, onLoggedIn: () -> Unit) {
    val s by vm.state.collectAsStateWithLifecycle()
    LaunchedEffect(vm) { vm.refresh() }
    LaunchedEffect(s.loggedIn) { if (s.loggedIn) onLoggedIn() }
    var passcode by remember { mutableStateOf("") }
    ScreenColumn("Đăng nhập / Log in", s.busy, s.error) {
        val lockedUntil = s.lockedUntil
        when {
            s.wiped -> Text("Dữ liệu trên máy đã bị xóa sau quá nhiều lần sai. Vui lòng đăng ký lại. / Wiped after too many attempts: enroll again.")
            lockedUntil != null -> Text("Tạm khóa đến ${formatTime(lockedUntil)} / Locked until ${formatTime(lockedUntil)}")
            else -> s.attemptsBeforeLockout?.let { Text("Còn $it lần thử / $it attempts left") }
        }
        PasscodeField(passcode, { passcode = it })
        Button(
            onClick = { launch { vm.login(passcode); passcode = "" } },
            enabled = !s.busy && passcode.length == 6 && !s.lockedOut && !s.wiped,
            modifier = Modifier.fillMaxWidth(),
        ) { Text("Đăng nhập / Log in") }
    }
}

@Composable
fun HomeScreen(go: (Screen) -> Unit, onLogout: () -> Unit) {
    ScreenColumn("Công dân số", busy = false, error = null) {
        listOf(
            Screen.SERVICES to "Dịch vụ công / Public services",
            Screen.DOCUMENTS to "Giấy tờ / Documents",
            Screen.QR_SCAN to "Quét mã QR đăng nhập / Scan a login QR code",
            Screen.SHARE to "Chia sẻ dữ liệu / Share data",
            Screen.ACTIVITY to "Nhật ký và biên nhận / Activity and receipts",
            Screen.DEVICES to "Thiết bị / Devices",
        ).forEach { (screen, label) ->
            Button(onClick = { go(screen) }, modifier = Modifier.fillMaxWidth()) { Text(label) }
        }
        OutlinedButton(onClick = onLogout, modifier = Modifier.fillMaxWidth()) { Text("Đăng xuất / Log out") }
    }
}

@Composable
fun DevicesScreen(vm: DevicesViewModel, launch: Launch) {
    val s by vm.state.collectAsStateWithLifecycle()
    LaunchedEffect(vm) { vm.refresh() }
    var passcode by remember { mutableStateOf("") }
    ScreenColumn("Thiết bị / Devices", s.busy, s.error) {
        PasscodeField(passcode, { passcode = it }, "Mã khóa để thu hồi / Passcode to revoke")
        s.devices.forEach { d ->
            Card(Modifier.fillMaxWidth()) {
                Text("${d.label} (${d.platform})" + if (d.isThisDevice) " — máy này / this phone" else "")
                Text("${d.status} · ${formatTime(d.enrolledAt)}" + if (d.hardwareBacked) " · phần cứng / hardware" else "")
                if (!d.isThisDevice) {
                    OutlinedButton(onClick = { launch { vm.revoke(d.deviceId, passcode) } }, enabled = passcode.length == 6 && !s.busy) {
                        Text("Thu hồi / Revoke")
                    }
                }
            }
        }
    }
}
