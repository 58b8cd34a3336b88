package vn.citizen.android.app.ui

import android.Manifest
import android.content.ActivityNotFoundException
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import android.net.Uri
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.material3.Button
import androidx.compose.material3.FilterChip
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.DisposableEffect
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.unit.dp
import androidx.compose.ui.viewinterop.AndroidView
import androidx.core.content.ContextCompat
import androidx.lifecycle.compose.LocalLifecycleOwner
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import com.google.zxing.BarcodeFormat
import com.google.zxing.BinaryBitmap
import com.google.zxing.DecodeHintType
import com.google.zxing.NotFoundException
import com.google.zxing.PlanarYUVLuminanceSource
import com.google.zxing.common.HybridBinarizer
import com.google.zxing.qrcode.QRCodeReader
import vn.citizen.android.app.BuildConfig
import vn.citizen.android.viewmodel.QrLoginViewModel
import java.util.concurrent.Executors

/**
 * The camera finds the portal's login QR code (CameraX preview + ImageAnalysis, decoded with
 * ZXing); each decoded text goes to the core, which checks it before anything is shown.
 */
@Composable
fun QrScanScreen(vm: QrLoginViewModel, launch: Launch, onRequest: () -> Unit) {
    val s by vm.state.collectAsStateWithLifecycle()
    val context = LocalContext.current
    var granted by remember {
        mutableStateOf(ContextCompat.checkSelfPermission(context, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED)
    }
    val permission = rememberLauncherForActivityResult(ActivityResultContracts.RequestPermission()) { granted = it }
    LaunchedEffect(Unit) { if (!granted) permission.launch(Manifest.permission.CAMERA) }
    LaunchedEffect(s.stage) { if (s.stage == QrLoginViewModel.Stage.REVIEW) onRequest() }
    ScreenColumn("Quét mã QR / Scan QR code", s.busy, s.error) {
        if (granted) {
            QrCamera { text -> launch { vm.scan(text) } }
        } else {
            Text("Cần quyền camera để quét mã. / Camera permission is needed to scan.")
        }
    }
}

@Composable
private fun QrCamera(onText: (String) -> Unit) {
    val context = LocalContext.current
    val lifecycleOwner = LocalLifecycleOwner.current
    val analysisExecutor = remember { Executors.newSingleThreadExecutor() }
    val providerFuture = remember { ProcessCameraProvider.getInstance(context) }
    // Leaving the scanner closes the camera (the use cases are bound to the activity's
    // lifecycle, which outlives this screen) before the analyzer's executor goes away.
    DisposableEffect(Unit) {
        onDispose {
            if (providerFuture.isDone) runCatching { providerFuture.get() }.getOrNull()?.unbindAll()
            analysisExecutor.shutdown()
        }
    }
    AndroidView(
        modifier = Modifier.fillMaxWidth().height(360.dp),
        factory = { ctx ->
            val view = PreviewView(ctx)
            providerFuture.addListener({
                // Both run on the main thread: a provider ready after the screen left is not bound.
                if (analysisExecutor.isShutdown) return@addListener
                val provider = providerFuture.get()
                val preview = Preview.Builder().build().also { it.setSurfaceProvider(view.surfaceProvider) }
                val analysis = ImageAnalysis.Builder()
                    .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                    .build()
                val reader = QrFrameReader()
                analysis.setAnalyzer(analysisExecutor) { image -> image.use { reader.decode(it) }?.let(onText) }
                provider.unbindAll()
                provider.bindToLifecycle(lifecycleOwner, CameraSelector.DEFAULT_BACK_CAMERA, preview, analysis)
            }, ContextCompat.getMainExecutor(context))
            view
        },
    )
}

/** ZXing over the Y plane of a YUV_420_888 frame; remembers the last text to skip repeats. */
private class QrFrameReader {
    private val reader = QRCodeReader()
    private val hints = mapOf(DecodeHintType.POSSIBLE_FORMATS to listOf(BarcodeFormat.QR_CODE), DecodeHintType.TRY_HARDER to true)
    private var last: String? = null

    fun decode(image: ImageProxy): String? {
        val plane = image.planes[0]
        val buffer = plane.buffer
        val data = ByteArray(buffer.remaining()).also { buffer.get(it) }
        val source = PlanarYUVLuminanceSource(data, plane.rowStride, image.height, 0, 0, image.width, image.height, false)
        return try {
            val text = reader.decode(BinaryBitmap(HybridBinarizer(source)), hints).text
            text.takeIf { it != last }?.also { last = it }
        } catch (e: NotFoundException) {
            null
        } catch (e: com.google.zxing.ChecksumException) {
            null
        } catch (e: com.google.zxing.FormatException) {
            null
        } finally {
            reader.reset()
        }
    }
}

/** Who asks (verified), for what, and the three codes: the citizen picks the portal's one. */
@Composable
fun QrApproveScreen(vm: QrLoginViewModel, launch: Launch, onDone: () -> Unit) {
    val s by vm.state.collectAsStateWithLifecycle()
    val context = LocalContext.current
    val request = s.request
    if (request == null) {
        val error = s.error
        if (error == null) {
            LaunchedEffect(Unit) { onDone() }
        } else {
            // A same-device link the core refused: say why.
            ScreenColumn("Đăng nhập bằng QR / QR login", s.busy, error) {
                Button(onClick = onDone) { Text("Xong / Done") }
            }
        }
        return
    }
    // Same-device login: back to the relying party (its registered redirect with the ID token),
    // in the browser, once; https only (loopback http too in debug builds).
    val redirect = s.redirectToOpen(allowLoopbackHttp = BuildConfig.DEBUG)
    // Once per approval, not again after a rotation.
    var redirected by rememberSaveable(s.approval?.receipt?.receiptId) { mutableStateOf(false) }
    LaunchedEffect(redirect) {
        if (redirect != null && !redirected) {
            redirected = true
            openInBrowser(context, redirect)
        }
    }
    var passcode by remember { mutableStateOf("") }
    ScreenColumn("Đăng nhập bằng QR / QR login", s.busy, s.error) {
        Text(request.relyingPartyNameVi)
        Text(request.origin)
        Text("Yêu cầu / Asks for: " + request.claims.joinToString { it.labelVi })
        when (s.stage) {
            QrLoginViewModel.Stage.APPROVED -> {
                Text("Đã đồng ý. Biên nhận đã được lưu. / Approved; the receipt is saved.")
                if (redirect != null) {
                    OutlinedButton(onClick = { openInBrowser(context, redirect) }, modifier = Modifier.fillMaxWidth()) {
                        Text("Quay lại trang web / Back to the website")
                    }
                }
                Button(onClick = onDone) { Text("Xong / Done") }
            }
            QrLoginViewModel.Stage.DENIED -> {
                Text("Đã từ chối. / Denied.")
                Button(onClick = onDone) { Text("Xong / Done") }
            }
            else -> {
                Text("Chọn mã đang hiển thị trên trang web / Pick the code the website shows")
                androidx.compose.foundation.layout.Row {
                    request.codeChoices.forEach { code ->
                        FilterChip(selected = s.chosenCode == code, onClick = { vm.chooseCode(code) }, label = { Text(code) })
                    }
                }
                PasscodeField(passcode, { passcode = it })
                Button(
                    onClick = { launch { vm.approve(passcode) } },
                    enabled = !s.busy && s.chosenCode != null && passcode.length == 6,
                    modifier = Modifier.fillMaxWidth(),
                ) { Text("Đồng ý / Approve") }
                OutlinedButton(onClick = { launch { vm.deny() } }, enabled = !s.busy, modifier = Modifier.fillMaxWidth()) {
                    Text("Từ chối / Deny")
                }
            }
        }
    }
}

/** ACTION_VIEW in the browser (or the relying party's app for a verified App Link). */
private fun openInBrowser(context: Context, url: String) {
    try {
        context.startActivity(Intent(Intent.ACTION_VIEW, Uri.parse(url)).addCategory(Intent.CATEGORY_BROWSABLE))
    } catch (e: ActivityNotFoundException) {
        // No browser: the approval stands; the website learns it by polling.
    }
}
