import org.gradle.api.tasks.Exec

// The core as an Android library: the bindings (:bindings), JNA as an AAR, and
// libcitizen_core.so for arm64-v8a, armeabi-v7a and x86_64 built by cargo-ndk into
// src/main/jniLibs (task buildRustLibraries, run before every build unless
// -Pcitizen.skipCargo=true).
plugins {
    alias(libs.plugins.android.library)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "vn.citizen.core.android"
    compileSdk = libs.versions.compileSdk.get().toInt()
    defaultConfig {
        minSdk = libs.versions.minSdk.get().toInt()
        consumerProguardFiles("consumer-rules.pro")
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    packaging {
        // Keep the .so files page-aligned and uncompressed in the APK (16 KB devices load them
        // in place); AGP 8.5.1+ aligns uncompressed native libraries to 16 KB.
        jniLibs.useLegacyPackaging = false
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    api(project(":bindings"))
    // The AAR (classes + libjnidispatch.so per ABI), not the desktop JAR.
    api("net.java.dev.jna:jna:${libs.versions.jna.get()}@aar")
    api(libs.kotlinx.coroutines.android)
}

val repoRoot: File = rootProject.projectDir.parentFile
val jniLibsDir: File = file("src/main/jniLibs")
val androidAbis = listOf("arm64-v8a", "armeabi-v7a", "x86_64")
val androidTriples = listOf("aarch64-linux-android", "armv7-linux-androideabi", "x86_64-linux-android")

// cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 --platform 24 -o src/main/jniLibs build --release
// Needs: rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android,
// cargo install cargo-ndk, and ANDROID_NDK_HOME (or the SDK's ndk/ folder) set.
val buildRustLibraries by tasks.registering(Exec::class) {
    group = "build"
    description = "Builds libcitizen_core.so for each Android ABI with cargo-ndk (16 KB pages)."
    workingDir = repoRoot
    inputs.files(fileTree(repoRoot.resolve("src")), repoRoot.resolve("Cargo.toml"), repoRoot.resolve("Cargo.lock"))
    outputs.dir(jniLibsDir)
    commandLine(
        buildList {
            addAll(listOf("cargo", "ndk"))
            androidAbis.forEach { addAll(listOf("-t", it)) }
            addAll(listOf("--platform", libs.versions.minSdk.get(), "-o", jniLibsDir.absolutePath))
            addAll(listOf("build", "--release", "-p", "citizen-core"))
        },
    )
    // 16 KB page alignment (Android 15+ devices with 16 KB pages refuse 4 KB-aligned ELF
    // segments): a per-target RUSTFLAGS so host builds are untouched. NDK r28+ already links
    // with 16 KB alignment; this keeps older NDKs right too.
    androidTriples.forEach { triple ->
        val key = "CARGO_TARGET_${triple.uppercase().replace('-', '_')}_RUSTFLAGS"
        environment(key, "-C link-arg=-Wl,-z,max-page-size=16384")
    }
}

if (providers.gradleProperty("citizen.skipCargo").orNull != "true") {
    tasks.named("preBuild") { dependsOn(buildRustLibraries) }
}
