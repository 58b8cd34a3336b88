// The platform adapters: AndroidKeystoreDeviceKeyStore, AndroidKeystoreDataKeyWrapper, and the
// pure KeystoreSupport (also compiled and tested on the JVM by android/jvm).
plugins {
    alias(libs.plugins.android.library)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "vn.citizen.android.keystore"
    compileSdk = libs.versions.compileSdk.get().toInt()
    defaultConfig {
        // 28, as the app: the adapter catches StrongBoxUnavailableException (API 28) and the
        // app's authenticator is the framework BiometricPrompt (API 28); lint's NewApi check
        // would refuse the catch clause at 24.
        minSdk = libs.versions.appMinSdk.get().toInt()
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    testOptions {
        // KeystoreSupportTest constructs framework exceptions: the mockable android.jar.
        unitTests.isReturnDefaultValues = true
        unitTests.all { it.useJUnitPlatform() }
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    api(project(":core"))
    testImplementation(libs.junit.jupiter)
    testRuntimeOnly(libs.junit.platform.launcher)
    testRuntimeOnly(libs.jna)
}
