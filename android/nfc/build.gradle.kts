// The NFC adapter: IsoDepApduTransport, the core's ApduTransport over android.nfc.tech.IsoDep
// (also compiled against android-all and tested with a fake tag on the JVM by android/jvm).
plugins {
    alias(libs.plugins.android.library)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "vn.citizen.android.nfc"
    compileSdk = libs.versions.compileSdk.get().toInt()
    defaultConfig {
        // IsoDep.isExtendedLengthApduSupported is API 16; the app's floor applies.
        minSdk = libs.versions.appMinSdk.get().toInt()
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    testOptions {
        // The test constructs framework exceptions (TagLostException): the mockable android.jar.
        unitTests.isReturnDefaultValues = true
        unitTests.all { it.useJUnitPlatform() }
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    api(project(":core"))
    implementation(libs.kotlinx.coroutines.android)
    testImplementation(libs.junit.jupiter)
    testRuntimeOnly(libs.junit.platform.launcher)
    testRuntimeOnly(libs.jna)
}
