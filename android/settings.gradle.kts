// The Android shell of citizen-core. Modules:
//   :bindings   the generated Kotlin bindings (../bindings/kotlin/src/main/kotlin), plain Kotlin/JVM
//   :core       Android library: :bindings + JNA (@aar) + libcitizen_core.so for each ABI (cargo-ndk)
//               + consumer ProGuard rules
//   :keystore   Android library: AndroidKeystoreDeviceKeyStore, AndroidKeystoreDataKeyWrapper,
//               KeystoreSupport (pure Kotlin), Authenticator
//   :nfc        Android library: IsoDepApduTransport (the core's ApduTransport over IsoDep)
//   :ble        Android library: BleMdocHolderTransport / BleMdocReaderTransport (the core's
//               MdocTransport over BLE GATT, ISO 18013-5 peripheral server mode), MdocBleLink
//   :viewmodel  plain Kotlin/JVM: the flow view models over the bindings (no Android types)
//   :app        Jetpack Compose app
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "citizen-android"
include(":bindings", ":core", ":keystore", ":nfc", ":ble", ":viewmodel", ":app")
