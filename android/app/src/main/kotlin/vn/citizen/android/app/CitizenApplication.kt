package vn.citizen.android.app

import android.app.Activity
import android.app.Application
import android.os.Build
import android.os.Bundle
import vn.citizen.android.app.platform.BiometricPromptAuthenticator
import vn.citizen.android.keystore.AndroidKeystoreDataKeyWrapper
import vn.citizen.android.keystore.AndroidKeystoreDeviceKeyStore
import vn.citizen.core.CitizenCore
import vn.citizen.core.Language
import vn.citizen.core.Platform
import vn.citizen.core.defaultCoreConfig
import vn.citizen.core.eraseLocalData
import java.io.File
import java.lang.ref.WeakReference

/**
 * Owns the one [CitizenCore] of the process and the platform adapters it runs on.
 *
 * The core's data directory is files/citizen-core, excluded from cloud backup and device
 * transfer by res/xml/backup_rules.xml and data_extraction_rules.xml (its data key is wrapped by
 * an AndroidKeyStore key that does not travel).
 */
class CitizenApplication : Application() {
    private var resumed: WeakReference<Activity> = WeakReference(null)

    /** The activity in front, for the biometric prompt. */
    val currentActivity: Activity? get() = resumed.get()

    val dataDir: File get() = File(filesDir, DATA_DIR)

    val locale: Language get() = if (resources.configuration.locales[0].language == "vi") Language.VI else Language.EN

    override fun onCreate() {
        super.onCreate()
        registerActivityLifecycleCallbacks(object : ActivityLifecycleCallbacks {
            override fun onActivityResumed(activity: Activity) {
                resumed = WeakReference(activity)
            }
            override fun onActivityPaused(activity: Activity) {
                if (resumed.get() === activity) resumed = WeakReference(null)
            }
            override fun onActivityCreated(activity: Activity, savedInstanceState: Bundle?) = Unit
            override fun onActivityStarted(activity: Activity) = Unit
            override fun onActivityStopped(activity: Activity) = Unit
            override fun onActivitySaveInstanceState(activity: Activity, outState: Bundle) = Unit
            override fun onActivityDestroyed(activity: Activity) = Unit
        })
    }

    /**
     * Open the core (main-safe: the core migrates and unwraps on its own runtime). Throws the
     * core's CitizenException, e.g. DataKeyLost after a restore onto a phone without the
     * wrapping key (the caller offers re-enrollment: [resetLocalData]).
     */
    suspend fun openCore(): CitizenCore {
        val config = defaultCoreConfig(BuildConfig.CITIZEN_SERVER, dataDir.absolutePath).copy(
            language = locale,
            deviceLabel = "${Build.MANUFACTURER} ${Build.MODEL}",
            platform = Platform.ANDROID,
        )
        val keyStore = AndroidKeystoreDeviceKeyStore(this, BiometricPromptAuthenticator({ currentActivity }, { locale == Language.VI }))
        return CitizenCore.open(config, keyStore, AndroidKeystoreDataKeyWrapper())
    }

    /**
     * Forget everything local (the server keeps the account; the citizen enrolls again): the
     * core erases its data directory and deletes its wrapping key through the wrapper, so no
     * key alias is hard-coded here. Only after DataKeyLost, with no core open.
     */
    suspend fun resetLocalData() {
        eraseLocalData(dataDir.absolutePath, AndroidKeystoreDataKeyWrapper())
    }

    companion object {
        const val DATA_DIR = "citizen-core"
    }
}
