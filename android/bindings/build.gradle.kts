// The generated UniFFI bindings (committed at ../bindings/kotlin/src/main/kotlin by
// bindings/generate.sh) as a plain Kotlin/JVM library, so that both the Android :core library
// and the pure-JVM :viewmodel module can depend on them. JNA is compileOnly here: an app gets it
// as the Android AAR through :core (net.java.dev.jna:jna@aar, with JNA's own native stubs for
// each ABI); the plain JAR must not end up in the APK next to it.
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
    sourceSets.main {
        kotlin.srcDir(rootProject.file("../bindings/kotlin/src/main/kotlin"))
    }
}

dependencies {
    compileOnly(libs.jna)
    implementation(libs.kotlinx.coroutines.core)
}
