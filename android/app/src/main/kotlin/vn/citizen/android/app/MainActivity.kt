package vn.citizen.android.app

import android.content.Intent
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.BackHandler
import androidx.activity.compose.setContent
import androidx.activity.viewModels
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import vn.citizen.android.app.ui.ActivityScreen
import vn.citizen.android.app.ui.DevicesScreen
import vn.citizen.android.app.ui.DocumentsScreen
import vn.citizen.android.app.ui.EnrollmentScreen
import vn.citizen.android.app.ui.HomeScreen
import vn.citizen.android.app.ui.LoginScreen
import vn.citizen.android.app.ui.QrApproveScreen
import vn.citizen.android.app.ui.QrScanScreen
import vn.citizen.android.app.ui.ServicesScreen
import vn.citizen.android.app.ui.ShareScreen
import vn.citizen.android.viewmodel.DeepLink

/** The app's destinations (a small app: state-driven navigation, no navigation library). */
enum class Screen { ENROLL, LOGIN, HOME, DEVICES, SERVICES, DOCUMENTS, QR_SCAN, QR_APPROVE, SHARE, ACTIVITY }

/**
 * The one activity (`launchMode="singleTop"`). Besides the launcher it is opened with the
 * same-device links `citizenid://login?p=…` and `citizenid://share?request=…` (the manifest's
 * VIEW/BROWSABLE intent filter): in [onCreate] when the link started it, in [onNewIntent] when
 * the app was already on top. The link is handed to [AppModel.receiveLink]; [App] opens it once
 * the citizen is logged in.
 */
class MainActivity : ComponentActivity() {
    private val model: AppModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        // Not again after a configuration change (the model kept it), nor when the task is
        // reopened from Recents (the old link would be re-delivered).
        val fromHistory = (intent.flags and Intent.FLAG_ACTIVITY_LAUNCHED_FROM_HISTORY) != 0
        if (savedInstanceState == null && !fromHistory) handleLink(intent)
        setContent {
            MaterialTheme {
                Surface(Modifier.fillMaxSize()) { App(model) }
            }
        }
    }

    override fun onNewIntent(intent: Intent) {
        super.onNewIntent(intent)
        setIntent(intent)
        handleLink(intent)
    }

    private fun handleLink(intent: Intent?) {
        if (intent?.action == Intent.ACTION_VIEW) model.receiveLink(intent.dataString)
    }
}

@Composable
fun App(model: AppModel) {
    val coreState by model.coreState.collectAsStateWithLifecycle()
    when (val s = coreState) {
        AppModel.CoreState.Opening -> CircularProgressIndicator(Modifier.padding(32.dp))
        is AppModel.CoreState.Failed -> Column(Modifier.padding(24.dp), verticalArrangement = Arrangement.spacedBy(16.dp)) {
            Text(s.error.message)
            if (s.dataKeyLost) Button(onClick = { model.resetAndReopen() }) { Text("Đăng ký lại / Enroll again") }
            if (s.retryable) Button(onClick = { model.retryOpen() }) { Text("Thử lại / Try again") }
        }
        is AppModel.CoreState.Ready -> {
            var screen by rememberSaveable { mutableStateOf(if (s.enrolled) Screen.LOGIN else Screen.ENROLL) }
            val go: (Screen) -> Unit = { screen = it }
            BackHandler(enabled = screen !in setOf(Screen.ENROLL, Screen.LOGIN, Screen.HOME)) { screen = Screen.HOME }
            val f = s.flows
            // A same-device link (MainActivity): opened once the citizen is logged in. The
            // action runs in the model's scope, so taking the link (a key change) does not
            // cancel it.
            val link by model.pendingLink.collectAsStateWithLifecycle()
            val login by f.login.state.collectAsStateWithLifecycle()
            LaunchedEffect(link, login.loggedIn) {
                if (!login.loggedIn) return@LaunchedEffect
                val taken = model.takeLink() ?: return@LaunchedEffect
                model.launch {
                    when (taken) {
                        is DeepLink.Login -> {
                            f.qr.openLink(taken.url)
                            go(Screen.QR_APPROVE) // the request, or the core's error
                        }
                        is DeepLink.Share -> {
                            f.share.open(taken.url)
                            go(Screen.SHARE)
                        }
                    }
                }
            }
            when (screen) {
                Screen.ENROLL -> EnrollmentScreen(f.enrollment, model::launch) { go(Screen.LOGIN) }
                Screen.LOGIN -> LoginScreen(f.login, model::launch) { go(Screen.HOME) }
                Screen.HOME -> HomeScreen(go) { model.launch { if (f.login.logout()) go(Screen.LOGIN) } }
                Screen.DEVICES -> DevicesScreen(f.devices, model::launch)
                Screen.SERVICES -> ServicesScreen(f.services, model::launch)
                Screen.DOCUMENTS -> DocumentsScreen(f.documents, model::launch)
                Screen.QR_SCAN -> QrScanScreen(f.qr, model::launch) { go(Screen.QR_APPROVE) }
                Screen.QR_APPROVE -> QrApproveScreen(f.qr, model::launch) { f.qr.reset(); go(Screen.HOME) }
                Screen.SHARE -> ShareScreen(f.share, model::launch) { f.share.reset(); go(Screen.HOME) }
                Screen.ACTIVITY -> ActivityScreen(f.activity, model::launch)
            }
        }
    }
}
