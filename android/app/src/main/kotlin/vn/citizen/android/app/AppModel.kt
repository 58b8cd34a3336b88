package vn.citizen.android.app

import android.app.Application
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.getAndUpdate
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import vn.citizen.android.viewmodel.ActivityViewModel
import vn.citizen.android.viewmodel.CoreErrors
import vn.citizen.android.viewmodel.DeepLink
import vn.citizen.android.viewmodel.DevicesViewModel
import vn.citizen.android.viewmodel.EnrollmentViewModel
import vn.citizen.android.viewmodel.LoginViewModel
import vn.citizen.android.viewmodel.QrLoginViewModel
import vn.citizen.android.viewmodel.ServicesViewModel
import vn.citizen.android.viewmodel.ShareViewModel
import vn.citizen.android.viewmodel.UiError
import vn.citizen.core.AuthException
import vn.citizen.core.CitizenCore
import vn.citizen.core.EnrollmentState
import vn.citizen.core.KeyOptions
import vn.citizen.core.Locale
import vn.citizen.core.SetupException

/** The flow view models of one opened core (see android/viewmodel). */
class Flows(val core: CitizenCore, locale: Locale) {
    /**
     * Device keys: StrongBox when present, user-authentication-bound (biometric or credential).
     * The attestation challenge is filled in per enrollment (`EnrollmentViewModel.keyOptionsFor`:
     * the enrollment id).
     */
    private val keyOptions = KeyOptions(requireUserAuthentication = true, preferStrongbox = true, attestationChallenge = byteArrayOf())
    val enrollment = EnrollmentViewModel(core.account(), keyOptions, locale)
    val login = LoginViewModel(core, locale)
    val devices = DevicesViewModel(core.account(), locale)
    val services = ServicesViewModel(core.services(), locale)
    val qr = QrLoginViewModel(core.consent(), locale)
    val share = ShareViewModel(core.consent(), locale)
    val activity = ActivityViewModel(core.activity(), core.consent(), locale)
}

/**
 * The androidx ViewModel that outlives configuration changes: opens the core (its async
 * constructor runs the migration and the data-key unwrap on the core's runtime, so no
 * `Dispatchers.IO` hop), holds the pure flow view models, and runs their actions in
 * [viewModelScope].
 */
class AppModel(application: Application) : AndroidViewModel(application) {
    private val app = application as CitizenApplication

    sealed interface CoreState {
        data object Opening : CoreState
        data class Ready(val flows: Flows, val enrolled: Boolean) : CoreState
        /** [dataKeyLost]: restored or keystore reset; the only way on is to reset and re-enroll. */
        data class Failed(val error: UiError, val dataKeyLost: Boolean) : CoreState
    }

    private val mutableCore = MutableStateFlow<CoreState>(CoreState.Opening)
    val coreState: StateFlow<CoreState> = mutableCore.asStateFlow()

    init {
        open()
    }

    private fun open() = viewModelScope.launch {
        mutableCore.value = CoreState.Opening
        mutableCore.value = try {
            val core = app.openCore()
            val enrolled = core.status().enrollment is EnrollmentState.Enrolled
            CoreState.Ready(Flows(core, app.locale), enrolled)
        } catch (e: SetupException) {
            CoreState.Failed(CoreErrors.toUi(e, app.locale), dataKeyLost = e is SetupException.DataKeyUnavailable)
        } catch (e: AuthException) {
            // status() reads the database (AuthException.Storage): shown, not a crash at launch.
            CoreState.Failed(CoreErrors.toUi(e, app.locale), dataKeyLost = false)
        }
    }

    private val links = MutableStateFlow<DeepLink?>(null)

    /** A same-device link waiting to be opened (after login when needed); the newest wins. */
    val pendingLink: StateFlow<DeepLink?> = links.asStateFlow()

    /** From MainActivity's intent: kept if it is a `citizenid` login or share link, else ignored. */
    fun receiveLink(url: String?) {
        url?.let(DeepLink::parse)?.let { links.value = it }
    }

    /** The pending link, at most once. */
    fun takeLink(): DeepLink? = links.getAndUpdate { null }

    /** Run a view-model action (they are suspend functions) in this model's scope. */
    fun launch(action: suspend () -> Unit) {
        viewModelScope.launch { action() }
    }

    /** After DataKeyUnavailable: forget the local data and start over with enrollment. */
    fun resetAndReopen() = viewModelScope.launch {
        (mutableCore.value as? CoreState.Ready)?.flows?.core?.close()
        withContext(Dispatchers.IO) { app.resetLocalData() }
        open()
    }

    override fun onCleared() {
        (mutableCore.value as? CoreState.Ready)?.flows?.core?.close()
    }
}
