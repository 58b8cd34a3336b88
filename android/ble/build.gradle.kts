// The BLE adapters of the in-person presentation (ISO/IEC 18013-5 §8.3.3.1.1, mdoc peripheral
// server mode): BleMdocHolderTransport (GATT server) and BleMdocReaderTransport (GATT client),
// the core's MdocTransport over android.bluetooth; MdocBleLink (pure Kotlin) holds their state
// machine. Also compiled against android-all and tested on the JVM by android/jvm.
plugins {
    alias(libs.plugins.android.library)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "vn.citizen.android.ble"
    compileSdk = libs.versions.compileSdk.get().toInt()
    defaultConfig {
        // BluetoothLeAdvertiser and the GATT server are API 21; the app's floor applies.
        minSdk = libs.versions.appMinSdk.get().toInt()
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    testOptions {
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
}
